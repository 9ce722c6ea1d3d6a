"""One daily load of a vendor's doc samples, shared by the tests that read it back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from assets.runner import LoadOutcome, run_daily_load
from tests.doc_samples.server import DocSampleServer, Handler, Request
from tests.settings import isolate


@dataclass(frozen=True)
class DocLoad:
    warehouse: Path
    outcome: LoadOutcome
    requests: list[Request] = field(repr=False)


@contextmanager
def doc_sample_load(root: Path, routes: Mapping[tuple[str, str], Handler],
                    settings: Callable[[str], Mapping[str, str]], as_of: str) -> Iterator[DocLoad]:
    """Serves `routes`, configures the vendor with `settings(origin)` and runs the daily load for
    `as_of` into a warehouse under `root`; only the caller's settings apply."""
    warehouse = root / "warehouse" / "turnout.duckdb"
    with (pytest.MonkeyPatch.context() as patch, DocSampleServer(routes) as server,
          dg.instance_for_test() as instance):
        isolate(patch, root)
        for name, value in settings(server.origin).items():
            patch.setenv(name, value)
        outcome = run_daily_load(warehouse, as_of=as_of, instance=instance)
        yield DocLoad(warehouse, outcome, list(server.requests))
