"""How far a vendor's changes have been read: one cursor, kept in dlt's resource state.

Every vendor's event list is read by what changed since the last run, less a lookback,
and also re-reads the events still in their active window whatever their change time.
`dlt.sources.incremental` drops rows older than its cursor, which would drop those
re-read events, so the reading is each vendor's and only the cursor is kept here, the
same way for every vendor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import dlt

Moment = TypeVar("Moment", dt.date, dt.datetime)


@dataclass
class ChangeCursor(Generic[Moment]):
    """The newest change seen: where this run starts (`start`) and where the next will (`newest`)."""

    state: dict[str, Any]
    key: str
    render: Callable[[Moment], str]
    start: Moment | None
    newest: Moment | None

    @classmethod
    def of_resource(cls, key: str, parse: Callable[[Any], Moment | None],
                    render: Callable[[Moment], str]) -> ChangeCursor[Moment]:
        """The cursor stored under `key` in the running resource's state (None on a first run)."""
        state = dlt.current.resource_state()
        stored = state.get(key)
        start = parse(stored) if stored else None
        return cls(state, key, render, start, start)

    def changed_since(self, lookback: dt.timedelta) -> Moment | None:
        """What this run re-reads from: the cursor less the lookback; None on a first run (read all)."""
        return None if self.start is None else self.start - lookback

    def saw(self, moment: Moment | None) -> None:
        """Moves the cursor on to `moment` when it is newer."""
        if moment is not None and (self.newest is None or moment > self.newest):
            self.newest = moment

    def save(self) -> None:
        """Keeps the newest change seen for the next run (dlt commits it with the load)."""
        if self.newest is not None:
            self.state[self.key] = self.render(self.newest)
