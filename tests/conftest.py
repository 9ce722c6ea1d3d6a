"""Shared fixtures: real sandboxes on loopback, a fresh warehouse per test."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from pipelines.brp.sandbox import BrpSandbox
from pipelines.eventbookings.sandbox import EventBookingsSandbox
from pipelines.icareus.sandbox import IcareusSandbox
from pipelines.opus.sandbox import OpusSandbox
from pipelines.sandbox import SandboxApp, SandboxServer

# A fixed start date keeps sandbox data identical from run to run.
SANDBOX_START = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt and Turnout settings come only from what each test sets."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    for name in ("TURNOUT_WAREHOUSE", "TURNOUT_HASH_PERSONAL_DATA", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name in [name for name in os.environ if name.startswith("SOURCES__")]:
        monkeypatch.delenv(name)


def _serve(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as server:
        yield server


def _configure(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """Sets the environment a run needs to reach this sandbox."""
    for name, value in server.app.settings(server.base_url).items():
        monkeypatch.setenv(name, value)
    return server


@pytest.fixture
def opus_server() -> Iterator[SandboxServer]:
    yield from _serve(OpusSandbox(seed=7, scale="small", start_date=SANDBOX_START))


@pytest.fixture
def opus_configured(opus_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    return _configure(opus_server, monkeypatch)


@pytest.fixture
def eventbookings_server() -> Iterator[SandboxServer]:
    yield from _serve(EventBookingsSandbox(seed=7, scale="small", start_date=SANDBOX_START))


@pytest.fixture
def eventbookings_configured(eventbookings_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    return _configure(eventbookings_server, monkeypatch)


@pytest.fixture
def brp_server() -> Iterator[SandboxServer]:
    yield from _serve(BrpSandbox(seed=7, scale="small", start_date=SANDBOX_START))


@pytest.fixture
def brp_configured(brp_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    return _configure(brp_server, monkeypatch)


@pytest.fixture
def icareus_server() -> Iterator[SandboxServer]:
    yield from _serve(IcareusSandbox(seed=7, scale="small", start_date=SANDBOX_START))


@pytest.fixture
def icareus_configured(icareus_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    return _configure(icareus_server, monkeypatch)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "turnout.duckdb"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance
