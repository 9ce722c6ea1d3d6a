"""Shared fixtures: real sandboxes on loopback, a fresh warehouse per test."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from sandboxes.brp import BrpSandbox
from sandboxes.eventbookings import EventBookingsSandbox
from sandboxes.icareus import IcareusSandbox
from sandboxes.opus import OpusSandbox
from sandboxes.server import SandboxApp, SandboxServer
from tests import postgres
from tests.reference import ReferenceLoads
from tests.settings import isolate

# A fixed start date keeps sandbox data identical from run to run.
SANDBOX_START = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt and Turnout settings come only from what each test sets."""
    isolate(monkeypatch, tmp_path)


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


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres.Server]:
    """A PostgreSQL server for this test worker: CI's (tests/postgres.py), else one started here."""
    given = os.environ.get(postgres.URL_ENV)
    if given:
        yield postgres.Server(given)
        return
    folder = tmp_path_factory.mktemp("postgres")
    try:
        url = postgres.start(folder)
    except postgres.NoPostgres as missing:
        if postgres.required():
            pytest.fail(f"PostgreSQL is required here ({postgres.REQUIRE_ENV}) but cannot start: {missing}")
        pytest.skip(f"no PostgreSQL server for the tests that need one: {missing}")
    try:
        yield postgres.Server(url)
    finally:
        postgres.stop(folder)


@pytest.fixture
def postgres_url(postgres_server: postgres.Server) -> Iterator[str]:
    """The URL (password included) of a new, empty database on the tests' server, dropped after."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> ReferenceLoads:
    """The fault-free load of all four vendors (tests/reference.py), one for every worker."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    return ReferenceLoads(shared / "reference-load", SANDBOX_START)


# --- the reliability table (tests/reliability.py) ------------------------------------

_LEDGER_KEY = pytest.StashKey["Ledger"]()
_STARTED_KEY = pytest.StashKey[dt.datetime]()


WRITE_RELIABILITY = "--write-reliability"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(WRITE_RELIABILITY, action="store_true",
                     help="after a run of the whole suite, write docs/reliability.md from its fault trials")


def pytest_cmdline_main(config: pytest.Config) -> None:
    # The document is made from every trial's outcome in one process: writing it runs the
    # suite without workers.
    if config.getoption(WRITE_RELIABILITY):
        config.option.numprocesses = 0
        config.option.dist = "no"


def pytest_configure(config: pytest.Config) -> None:
    from tests.reliability import Ledger

    config.stash[_LEDGER_KEY] = Ledger()
    config.stash[_STARTED_KEY] = dt.datetime.now(dt.UTC)


def pytest_deselected(items: list[pytest.Item]) -> None:
    from tests.reliability import MARKER

    if any(item.get_closest_marker(MARKER) for item in items):
        items[0].config.stash[_LEDGER_KEY].incomplete = True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests.reliability import MARKER

    ledger = config.stash[_LEDGER_KEY]
    ledger.expected = {item.nodeid for item in items if item.get_closest_marker(MARKER)}
    _longest_files_first(items)
    # Only a run of the whole suite (no paths, or the tests folder itself) rewrites the document.
    tests_dir = Path(__file__).resolve().parent
    paths = [arg for arg in config.invocation_params.args if not arg.startswith("-")]
    if any(Path(config.invocation_params.dir, arg.split("::")[0]).resolve() != tests_dir for arg in paths):
        ledger.incomplete = True


# The files that took longest in full runs of the suite on 2 cores, longest first. Test
# faults first: it needs the reference load at once, so it is the one that builds it.
LONGEST_FILES = (
    "test_postgres_warehouse.py",
    "test_faults_end_to_end.py",
    "test_bench.py",
    "test_crash_resume.py",
    "test_concurrency.py",
    "test_brp_end_to_end.py",
    "test_definitions.py",
    "test_dashboard.py",
    "test_eventbookings_end_to_end.py",
)


def _longest_files_first(items: list[pytest.Item]) -> None:
    """The longest files first, then the other files with end-to-end tests, then the rest.

    Workers take files in this order (`--no-loadscope-reorder`: pytest-xdist would otherwise
    start with the files that have the most tests, which are the quick ones), so a long file
    is never left for last, running on one worker while the other has nothing to do.
    """
    end_to_end = {item.path for item in items if item.get_closest_marker("e2e")}

    def rank(item: pytest.Item) -> int:
        if item.path.name in LONGEST_FILES:
            return LONGEST_FILES.index(item.path.name)
        return len(LONGEST_FILES) + (item.path not in end_to_end)

    items.sort(key=rank)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    ledger = item.config.stash[_LEDGER_KEY]
    if report.when == "call" or (report.when == "setup" and not report.passed):
        if report.skipped:
            ledger.incomplete = True
        detail = ""
        if report.failed and call.excinfo is not None:
            detail = str(call.excinfo.value).strip().splitlines()[0][:200] if str(call.excinfo.value).strip() else ""
        ledger.settle(item.nodeid, report.outcome, detail)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.reliability import DOCUMENT

    ledger = session.config.stash.get(_LEDGER_KEY, None)
    # Only when asked: a tracked file rewritten by every run would leave each clone dirty.
    if not session.config.getoption(WRITE_RELIABILITY) or ledger is None or not ledger.complete():
        return
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(ledger.render(session.config.stash[_STARTED_KEY], dt.datetime.now(dt.UTC)))


@pytest.fixture
def reliability(request: pytest.FixtureRequest):
    """Records this test's row in docs/reliability.md: call .trial(...) then .measured(...)."""
    from tests.reliability import Recorder

    return Recorder(request.config.stash[_LEDGER_KEY], request.node.nodeid)
