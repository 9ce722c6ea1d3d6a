"""Bad configuration: a missing setting, a malformed URL, a host that does not answer, a value of
the wrong type, a settings file that does not parse, a key no vendor takes.

Each fails `turnout run` within seconds, naming the setting to fix, and a
correctly configured vendor beside it still loads. A wrong value or a broken file
stops `turnout run` before anything is requested (exit 2) with one line per problem;
in Dagster a vendor's wrong value fails only that vendor's load step.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers.toml import TomlProviderReadException
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from assets.cli import main
from assets.definitions import DAILY_JOB, build_definitions
from pipelines.settings import BrokenFile

API_KEY = "opus-key-5c1e9a7f"
CLIENT_SECRET = "eventbookings-secret-93b2d4"
# In process, a run that fails its settings never builds the job: well under a second was
# measured; the bound leaves room for a loaded machine.
IN_PROCESS_SECONDS = 10.0
# As a new process: starting Python and importing Dagster and dlt (~7 s on two idle CPUs,
# ~15 s on busy ones) plus the probes (~2 s: three tries, a second apart). 9-18 s measured.
END_TO_END_SECONDS = 30.0
MALFORMED_URLS = ("localhost:8080/api", "htp://x", "http://", "not a url", "https://exa mple.com/api")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _flat(text: str) -> str:
    """Console output with line wrapping undone."""
    return " ".join(text.split())


def _run_in_process(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    exit_code = main(["run", "--warehouse", str(warehouse)])
    return exit_code, _flat(capsys.readouterr().out), time.monotonic() - started


def _run_as_process(warehouse: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "assets.cli", "run", "--warehouse", str(warehouse)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "250"},
    )
    return done.returncode, _flat(done.stdout + done.stderr), time.monotonic() - started


def _closed_port() -> int:
    """A loopback port nothing listens on: bound once by the system, then let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.reliability
def test_a_missing_setting_fails_at_once_naming_it(opus_server, warehouse, monkeypatch, capsys, reliability):
    reliability.trial(
        area="Configuration",
        injected="OPUS DX half configured: SOURCES__OPUS__BASE_URL set, SOURCES__OPUS__API_KEY not",
        how_often="once",
        checked="`turnout run` exits non-zero within seconds naming SOURCES__OPUS__API_KEY; nothing is loaded",
    )
    monkeypatch.setenv("SOURCES__OPUS__BASE_URL", opus_server.base_url)

    exit_code, out, seconds = _run_in_process(warehouse, capsys)

    reliability.measured(f"failed after {seconds:.2f} s in process")
    assert exit_code == 1
    assert "failed: OPUS DX: SOURCES__OPUS__API_KEY is not set" in out
    assert seconds < IN_PROCESS_SECONDS
    assert not warehouse.exists()


@pytest.mark.reliability
def test_a_malformed_url_fails_at_once_naming_the_setting(warehouse, monkeypatch, capsys, reliability):
    reliability.trial(
        area="Configuration",
        injected=f"SOURCES__OPUS__BASE_URL set to each of {', '.join(repr(u) for u in MALFORMED_URLS)}; "
                 "SOURCES__EVENTBOOKINGS__TOKEN_URL with a scheme typo and a secret in its query",
        how_often=f"{len(MALFORMED_URLS) + 1} runs",
        checked="each `turnout run` exits non-zero within seconds naming the setting and the value "
                "expected; no secret and no query string is echoed",
    )
    monkeypatch.setenv("SOURCES__OPUS__API_KEY", API_KEY)
    slowest = 0.0
    for url in MALFORMED_URLS:
        monkeypatch.setenv("SOURCES__OPUS__BASE_URL", url)
        exit_code, out, seconds = _run_in_process(warehouse, capsys)
        slowest = max(slowest, seconds)
        assert exit_code == 1, out
        assert f"OPUS DX: SOURCES__OPUS__BASE_URL is not a valid URL ({url!r})" in out
        assert "expected an absolute http(s) URL" in out
        assert API_KEY not in out

    monkeypatch.delenv("SOURCES__OPUS__BASE_URL")
    monkeypatch.delenv("SOURCES__OPUS__API_KEY")
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__BASE_URL", "https://eventbooking.example/api")
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__CLIENT_ID", "client")
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__TOKEN_URL", f"htps://identity.example/token?secret={CLIENT_SECRET}")
    exit_code, out, seconds = _run_in_process(warehouse, capsys)
    slowest = max(slowest, seconds)

    reliability.measured(f"slowest of {len(MALFORMED_URLS) + 1} runs failed after {slowest:.2f} s in process")
    assert exit_code == 1
    assert "EventBookings: SOURCES__EVENTBOOKINGS__TOKEN_URL is not a valid URL ('htps://identity.example/token')" in out
    assert CLIENT_SECRET not in out
    assert slowest < IN_PROCESS_SECONDS


@pytest.mark.reliability
@pytest.mark.parametrize("host", ["refused", "unresolvable"])
def test_an_unreachable_host_fails_within_seconds_naming_the_setting(host, warehouse, monkeypatch, reliability):
    if host == "refused":
        port = _closed_port()
        url, address, reason = f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", "connection refused"
    else:
        url, address, reason = "https://nonexistent.invalid/api", "nonexistent.invalid:443", "does not resolve"
    reliability.trial(
        area="Configuration",
        injected=f"SOURCES__OPUS__BASE_URL pointing at a host that {'refuses connections (a closed loopback port)' if host == 'refused' else 'does not resolve (nonexistent.invalid)'}",
        how_often="once",
        checked=f"`turnout run`, started as a new process, exits non-zero within {END_TO_END_SECONDS:.0f} s "
                "naming OPUS DX, the host and SOURCES__OPUS__BASE_URL",
    )
    monkeypatch.setenv("SOURCES__OPUS__BASE_URL", url)
    monkeypatch.setenv("SOURCES__OPUS__API_KEY", API_KEY)

    exit_code, out, seconds = _run_as_process(warehouse)

    reliability.measured(f"process exited {exit_code} after {seconds:.1f} s end to end")
    assert exit_code == 1, out
    assert f"OPUS DX: cannot reach {address} from SOURCES__OPUS__BASE_URL ({reason}" in out
    assert API_KEY not in out
    assert seconds < END_TO_END_SECONDS


@pytest.mark.e2e
@pytest.mark.reliability
def test_a_vendor_with_a_malformed_url_fails_and_the_others_still_load(
    opus_configured, eventbookings_configured, warehouse, monkeypatch, capsys, reliability
):
    reliability.trial(
        area="Configuration",
        injected="OPUS DX configured correctly, EventBookings with SOURCES__EVENTBOOKINGS__BASE_URL "
                 "missing its scheme",
        how_often="once",
        checked="`turnout run` exits non-zero naming the EventBookings setting; OPUS DX still loads "
                "and the marts are built with its rows",
    )
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__BASE_URL", eventbookings_configured.base_url.split("://", 1)[1])

    exit_code, out, seconds = _run_in_process(warehouse, capsys)

    reliability.measured(f"run took {seconds:.1f} s")
    assert exit_code == 1, out
    assert "failed: EventBookings: SOURCES__EVENTBOOKINGS__BASE_URL is not a valid URL" in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schemas = {s for (s,) in con.execute("select schema_name from information_schema.schemata").fetchall()}
        opus_events = con.execute("select count(*) from raw_opus.events").fetchone()[0]
        vendors_in_marts = {v for (v,) in con.execute("select distinct vendor from marts.dim_events").fetchall()}
    assert "raw_eventbookings" not in schemas
    assert opus_events > 0
    assert vendors_in_marts == {"opus"}


# --- values and files dlt reads: .dlt/config.toml, .dlt/secrets.toml, SOURCES__* ---------------

WRONG_TYPE = 'OPUS DX: .dlt/config.toml, line 3: [sources.opus] lookback_days = "abc": expected an integer, such as 1'
UNTERMINATED = ".dlt/{file}: line 3, column 11: unterminated string (the line ends before its closing quote)"


def _reload_dlt_settings() -> None:
    """dlt reads its settings files once per process, when first asked: read them again."""
    container = Container()
    if PluggableRunContext not in container:
        return  # nothing read yet (and asking would set dlt's logging up on this test's stderr)
    # A file that does not parse leaves dlt's old reading in place; the check reads the files itself.
    with contextlib.suppress(TomlProviderReadException):
        container[PluggableRunContext].reload_providers()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory of its own, where dlt looks for .dlt/config.toml and .dlt/secrets.toml."""
    root = tmp_path / "project"
    (root / ".dlt").mkdir(parents=True)
    with monkeypatch.context() as patch:
        patch.chdir(root)
        _reload_dlt_settings()
        yield root
    _reload_dlt_settings()  # the project's own files again, for the tests that follow


def _settings(project: Path, config: str = "", secrets: str | None = None) -> None:
    (project / ".dlt" / "config.toml").write_text(config)
    if secrets is not None:
        (project / ".dlt" / "secrets.toml").write_text(secrets)
    _reload_dlt_settings()


def _run(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    exit_code = main(["run", "--warehouse", str(warehouse)])
    return exit_code, capsys.readouterr().out.splitlines()


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("injected", "config", "secrets", "env", "line"),
    [
        pytest.param("OPUS DX's lookback_days = \"abc\" in .dlt/config.toml",
                     '# tuning\n[sources.opus]\nlookback_days = "abc"\n', None, {}, WRONG_TYPE, id="config.toml"),
        pytest.param("SOURCES__OPUS__REQUEST_TIMEOUT=soon", "", None, {"SOURCES__OPUS__REQUEST_TIMEOUT": "soon"},
                     'OPUS DX: environment variable SOURCES__OPUS__REQUEST_TIMEOUT = "soon": '
                     "expected a number, such as 60.0", id="environment"),
        pytest.param("SOURCES__BRP__RETRY_BACKOFF=-1", "", None, {"SOURCES__BRP__RETRY_BACKOFF": "-1"},
                     'BRP: environment variable SOURCES__BRP__RETRY_BACKOFF = "-1": '
                     "expected a number of seconds, 0 or more, such as 0.5", id="negative-backoff"),
        pytest.param("BRP's start_date = \"2025-13-01\" in .dlt/config.toml",
                     '[sources.brp]\n\nstart_date = "2025-13-01"\n', None, {},
                     'BRP: .dlt/config.toml, line 3: [sources.brp] start_date = "2025-13-01": '
                     "expected a date YYYY-MM-DD, such as 2025-01-01", id="not-a-date"),
        pytest.param("OPUS DX's max_in_flight = \"lots\" in .dlt/secrets.toml, beside its API key",
                     "", f'[sources.opus]\napi_key = "{API_KEY}"\nmax_in_flight = "lots"\n', {},
                     "OPUS DX: .dlt/secrets.toml, line 3: [sources.opus] max_in_flight (value not shown: "
                     "secrets.toml holds secrets): expected an integer, such as 16", id="secrets.toml"),
        pytest.param("OPUS DX's api_key in .dlt/config.toml",
                     f'[sources.opus]\napi_key = "{API_KEY}"\n', None, {},
                     "OPUS DX: .dlt/config.toml, line 2: [sources.opus] api_key is a secret: set it in "
                     ".dlt/secrets.toml or SOURCES__OPUS__API_KEY, not in config.toml", id="secret-in-config"),
    ],
)
def test_a_wrong_value_stops_the_run_with_one_line_naming_it(
    injected, config, secrets, env, line, project, warehouse, monkeypatch, capsys, reliability
):
    reliability.trial(
        area="Configuration",
        injected=injected,
        how_often="once",
        checked="`turnout run` exits 2 before requesting anything, with one line naming the file or variable, "
                "the section, the key, the value (never a secret's) and what is expected",
    )
    _settings(project, config, secrets)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    started = time.monotonic()
    exit_code, out = _run(warehouse, capsys)

    reliability.measured(f"exit {exit_code} after {time.monotonic() - started:.2f} s in process")
    assert (exit_code, out) == (2, [line])
    assert not warehouse.parent.exists()


@pytest.mark.reliability
@pytest.mark.parametrize("file", ["config.toml", "secrets.toml"])
def test_a_settings_file_that_does_not_parse_is_one_line_with_its_place(file, project, warehouse, capsys, reliability):
    reliability.trial(
        area="Configuration",
        injected=f".dlt/{file} with an unterminated string",
        how_often="once",
        checked="`turnout run` exits 2 with one line naming the file, line and column; "
                "building the Dagster definitions fails with that line",
    )
    broken = f'[sources.opus]\n# the key\napi_key = "{API_KEY}\n'
    _settings(project, broken if file == "config.toml" else "", broken if file == "secrets.toml" else None)

    exit_code, out = _run(warehouse, capsys)

    assert (exit_code, out) == (2, [UNTERMINATED.format(file=file)])  # the key is not echoed
    with pytest.raises(BrokenFile) as raised:
        build_definitions(warehouse)
    assert str(raised.value) == UNTERMINATED.format(file=file)
    reliability.measured("one line, with line and column, in `turnout run` and in the definitions")


@pytest.mark.parametrize(
    ("config", "env", "warning"),
    [
        ("[sources.opus]\nlookbak_days = 2\n", {},
         "WARNING: .dlt/config.toml, line 2: [sources.opus] lookbak_days is not a setting of OPUS DX; "
         "did you mean lookback_days?"),
        ("", {"SOURCES__OPUS__LOOKBAK_DAYS": "2"},
         "WARNING: environment variable SOURCES__OPUS__LOOKBAK_DAYS is not a setting of OPUS DX; "
         "did you mean SOURCES__OPUS__LOOKBACK_DAYS?"),
        ("[sources.eventbooking]\nrows = 50\n", {},
         "WARNING: .dlt/config.toml, line 1: [sources.eventbooking] names no vendor Turnout loads; "
         "did you mean [sources.eventbookings]?"),
    ],
)
def test_an_unknown_key_warns_naming_the_closest_known_one(config, env, warning, project, warehouse, monkeypatch,
                                                           capsys):
    _settings(project, config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    exit_code, out = _run(warehouse, capsys)

    assert out[0] == warning
    assert exit_code == 1  # a warning stops nothing: the run goes on, and finds no vendor configured
    assert "no vendor is configured" in " ".join(out)


@pytest.mark.reliability
def test_a_wrong_value_fails_only_its_vendors_load_step_in_dagster(
    opus_configured, eventbookings_configured, project, warehouse, instance, reliability
):
    reliability.trial(
        area="Configuration",
        injected="EventBookings' `rows` set to \"many\" in .dlt/config.toml; OPUS DX configured correctly; "
                 "the definitions built with every vendor",
        how_often="once",
        checked="the definitions build; the EventBookings load step fails with the one line, "
                "OPUS DX's loads its raw tables",
    )
    _settings(project, '[sources.eventbookings]\nrows = "many"\n')

    defs = build_definitions(warehouse)

    raw = [key for key in defs.resolve_asset_graph().get_all_asset_keys()
           if key.path[0] in ("raw_opus", "raw_eventbookings")]
    result = defs.resolve_job_def(DAILY_JOB).execute_in_process(
        instance=instance, asset_selection=raw, raise_on_error=False
    )
    failures = {event.step_key: event.step_failure_data.user_failure_data.description
                for event in result.get_step_failure_events()}
    reliability.measured(f"{len(failures)} step failed")
    assert failures == {
        "load_eventbookings": 'EventBookings: .dlt/config.toml, line 2: [sources.eventbookings] rows = "many": '
                              "expected an integer, such as 100"
    }
    loaded = {event.asset_key.path[0] for event in result.get_asset_materialization_events()}
    assert loaded == {"raw_opus"}
    assert isinstance(defs.resolve_schedule_def("daily_load_schedule"), dg.ScheduleDefinition)
