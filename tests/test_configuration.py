"""Bad configuration: a missing setting, a malformed URL, a host that does not answer.

Each fails `turnout run` within seconds, naming the setting to fix, and a
correctly configured vendor beside it still loads.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from assets.cli import main

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
