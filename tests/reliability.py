"""The reliability table: what each fault test injected, how often, what it checked, and the outcome.

A test takes the `reliability` fixture and says what it does with `trial(...)`,
then what it measured with `measured(...)`. When a session run with
`--write-reliability` has run every test marked `reliability` (none deselected
or skipped), the table is written to docs/reliability.md.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
MARKER = "reliability"

INTRODUCTION = """\
# Reliability

Turnout runs unattended every night against vendor APIs that fail, throttle,
change their payloads and sometimes send garbage. The fault-injection suite
(`pytest -m reliability`, part of the full suite CI runs) serves the vendor
sandboxes with faults switched on by their settings, runs Turnout the way the
schedule does, and checks that nothing is lost, nothing is duplicated and no
secret leaks. This page is written by that suite at the end of a full run with
`pytest --write-reliability`; do not edit it by hand.
"""


@dataclass
class Trial:
    area: str
    injected: str
    how_often: str
    checked: str
    measured: list[str] = field(default_factory=list)
    outcome: str = "not run"
    order: int = 0


@dataclass
class Recorder:
    """What one test records about itself; the outcome is filled in from its result."""

    ledger: Ledger
    nodeid: str

    def trial(self, *, area: str, injected: str, how_often: str, checked: str) -> None:
        self.ledger.trials[self.nodeid] = Trial(area, injected, how_often, checked, order=len(self.ledger.trials))

    def measured(self, text: str) -> None:
        if self.nodeid not in self.ledger.trials:
            raise RuntimeError("call trial(...) before measured(...)")
        self.ledger.trials[self.nodeid].measured.append(text)


@dataclass
class Ledger:
    """Every trial of a session, by test id, and whether the session ran them all."""

    trials: dict[str, Trial] = field(default_factory=dict)
    expected: set[str] = field(default_factory=set)
    incomplete: bool = False

    def settle(self, nodeid: str, outcome: str, detail: str = "") -> None:
        trial = self.trials.get(nodeid)
        if trial is not None:
            trial.outcome = outcome if not detail else f"{outcome}: {detail}"

    def complete(self) -> bool:
        return bool(self.expected) and not self.incomplete and self.expected <= set(self.trials) and all(
            trial.outcome != "not run" for trial in self.trials.values())

    def render(self, started: dt.datetime, finished: dt.datetime) -> str:
        rows = sorted(self.trials.values(), key=lambda trial: trial.order)
        passed = sum(trial.outcome.startswith("passed") for trial in rows)
        lines = [
            INTRODUCTION,
            f"Last full run: {finished:%Y-%m-%d %H:%M} UTC, {len(rows)} trials, {passed} passed, "
            f"{(finished - started).total_seconds() / 60:.1f} min, Python {sys.version.split()[0]} "
            f"on {platform.system()} {platform.machine()}.",
            "",
            "| area | what was injected | how often | what was checked | outcome |",
            "| --- | --- | --- | --- | --- |",
        ]
        for trial in rows:
            outcome = trial.outcome
            if trial.measured:
                outcome = f"{outcome}; " + "; ".join(trial.measured)
            cells = (trial.area, trial.injected, trial.how_often, trial.checked, outcome)
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
