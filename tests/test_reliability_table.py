"""The reliability table itself: rows, outcomes, and when it is written."""

from __future__ import annotations

import datetime as dt

from tests.reliability import Ledger, Recorder


def test_a_full_run_renders_every_trial_with_its_outcome_and_measurements():
    ledger = Ledger(expected={"t::a", "t::b"})
    Recorder(ledger, "t::a").trial(area="HTTP", injected="503 | 502", how_often="10 %", checked="equal")
    Recorder(ledger, "t::a").measured("3 days, 0 rows differ")
    Recorder(ledger, "t::b").trial(area="Crash", injected="SIGKILL", how_often="once", checked="reopens")
    assert not ledger.complete()  # b has no result yet
    ledger.settle("t::a", "passed")
    ledger.settle("t::b", "failed", "boom")
    assert ledger.complete()

    text = ledger.render(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, 0, 3, tzinfo=dt.UTC))

    assert "2 trials, 1 passed, 3.0 min" in text
    assert "| HTTP | 503 \\| 502 | 10 % | equal | passed; 3 days, 0 rows differ |" in text
    assert text.index("| HTTP |") < text.index("| Crash |")
    assert "| Crash | SIGKILL | once | reopens | failed: boom |" in text


def test_a_partial_run_writes_nothing():
    ledger = Ledger(expected={"t::a", "t::b"})
    Recorder(ledger, "t::a").trial(area="HTTP", injected="x", how_often="y", checked="z")
    ledger.settle("t::a", "passed")
    assert not ledger.complete()
    ledger.incomplete = True
    assert not ledger.complete()
