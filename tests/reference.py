"""The reference load: all four vendors' sandboxes (seed 7, scale small, from SANDBOX_START)
loaded fault-free by the daily job, day 0 and each simulated day after it.

Many tests start from it or compare with it. It is loaded once per test session, by
whichever test worker asks first, under a file lock in the folder the workers share
(pytest-xdist's base temp folder), and kept as one read-only snapshot per day. A test
that writes gets a copy of its own (`ReferenceLoads.copy`); dlt restores its state
from the copied warehouse as it does for any warehouse it has not seen.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import pytest

from pipelines.registry import VENDORS
from sandboxes.registry import sandbox_for
from sandboxes.server import SandboxServer
from tests.settings import isolate

SEED = 7
SCALE = "small"
DAYS = 3  # day 0 and two simulated days after it
LAST_DAY = DAYS - 1
SNAPSHOT = "day{}.duckdb"
DONE = "complete"


@contextmanager
def reference_sandboxes(patch: pytest.MonkeyPatch, start) -> Iterator[list[SandboxServer]]:
    """Every vendor's reference sandbox serving, with the settings a run needs to reach it."""
    with ExitStack() as stack:
        servers = [stack.enter_context(SandboxServer(sandbox_for(vendor.name)(seed=SEED, scale=SCALE,
                                                                              start_date=start)))
                   for vendor in VENDORS]
        for server in servers:
            for name, value in server.app.settings(server.base_url).items():
                patch.setenv(name, value)
        yield servers


class ReferenceLoads:
    """The reference load's warehouse as it stood after each day, built on first use."""

    def __init__(self, folder: Path, start) -> None:
        self.folder = folder
        self.start = start

    def day(self, day: int) -> Path:
        """The read-only snapshot of the warehouse after `day` (0 = the first load)."""
        if not 0 <= day < DAYS:
            raise ValueError(f"the reference load has days 0 to {DAYS - 1}, not {day}")
        self._ensure()
        return self.folder / SNAPSHOT.format(day)

    def as_of(self, day: int) -> dt.date:
        """The business date the daily run of `day` loaded."""
        return self.start + dt.timedelta(days=day)

    def copy(self, day: int, to: Path) -> Path:
        """A writable copy of the warehouse after `day`, at `to`."""
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.day(day), to)
        return to

    def _ensure(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (self.folder / DONE).exists():
                self._load()
                (self.folder / DONE).touch()

    def _load(self) -> None:
        from assets.runner import run_daily_load

        warehouse = self.folder / "work" / "turnout.duckdb"
        # The asking test's own settings are put back afterwards, whatever they were.
        with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
            isolate(patch, self.folder / "work")
            with reference_sandboxes(patch, self.start) as servers:
                for day in range(DAYS):
                    if day:
                        for server in servers:
                            server.app.advance(1)
                    outcome = run_daily_load(warehouse, as_of=self.as_of(day).isoformat(), instance=instance)
                    assert outcome.ok, f"the reference load failed on day {day}: {outcome.failures} " \
                                       f"{outcome.checks_failed}"
                    # Every connection is closed, so the file holds the whole load: no log beside it.
                    assert not warehouse.with_name(warehouse.name + ".wal").exists()
                    shutil.copyfile(warehouse, self.folder / SNAPSHOT.format(day))
