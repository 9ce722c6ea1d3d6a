"""`turnout run` and `turnout sandbox` as a user meets them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from assets.cli import main
from assets.runner import run_daily_load
from pipelines.icareus.helpers import sign_token
from pipelines.opus import VENDOR as OPUS
from tests.two_writers import SECOND_OPUS

WRONG_KEY = "wrong-key-7f3a9c2e51"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Where Turnout's own settings are read: each must be listed by `turnout run --help`.
SETTINGS_MODULES = (PROJECT_ROOT / "assets" / "settings.py", PROJECT_ROOT / "assets" / "locks.py")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["run", "--as-of", "2026-13-45"],
         "turnout run: error: argument --as-of: 2026-13-45: expected a date YYYY-MM-DD, such as 2026-11-20"),
        (["run", "--as-of", "20261120"],
         "turnout run: error: argument --as-of: 20261120: expected a date YYYY-MM-DD, such as 2026-11-20"),
        (["demo", "--days", "-1"], "turnout demo: error: argument --days: -1: expected a whole number of days, 0 or more"),
        (["demo", "--days", "two"], "turnout demo: error: argument --days: two: expected a whole number of days, 0 or more"),
        (["sandbox", "--port", "70000"],
         "turnout sandbox: error: argument --port: 70000: expected a port number from 0 to 65535"),
        (["sandbox", "--latency-ms", "-5"],
         "turnout sandbox: error: argument --latency-ms: -5: expected a number of milliseconds, 0 or more"),
        (["sandbox", "--latency-ms", "nan"],
         "turnout sandbox: error: argument --latency-ms: nan: expected a number of milliseconds, 0 or more"),
        (["dashboard", "--port", "-1"],
         "turnout dashboard: error: argument --port: -1: expected a port number from 0 to 65535"),
    ],
)
def test_a_wrong_argument_is_one_line_naming_it_and_exits_2(argv, error, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)

    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert captured.err.splitlines()[-1] == error
    assert captured.err.startswith("usage: ") and not captured.out


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("TURNOUT_HASH_PERSONAL_DATA", "maybe",
         "TURNOUT_HASH_PERSONAL_DATA must be true or false (1/0, yes/no, on/off), not 'maybe'"),
        ("TURNOUT_SCHEDULE", "every day",
         "TURNOUT_SCHEDULE must be a cron expression of 5 fields, such as '0 5 * * *', not 'every day'"),
        ("TURNOUT_LOCK_TIMEOUT", "soon", "TURNOUT_LOCK_TIMEOUT must be a number of seconds, 0 or more, not 'soon'"),
    ],
)
def test_a_wrong_turnout_setting_is_one_line_and_exits_2(name, value, line, warehouse, monkeypatch, capsys):
    monkeypatch.setenv(name, value)

    exit_code = main(["run", "--warehouse", str(warehouse)])

    assert (exit_code, capsys.readouterr().out.splitlines()) == (2, [line])
    assert not warehouse.parent.exists()


def test_a_warehouse_or_run_history_in_the_wrong_place_is_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    history = tmp_path / "history"
    history.write_text("")

    assert main(["run", "--warehouse", str(folder)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"{folder} is a folder: expected the DuckDB file (--warehouse or TURNOUT_WAREHOUSE)"]
    monkeypatch.setenv("DAGSTER_HOME", str(history))
    assert main(["run", "--warehouse", str(tmp_path / "turnout.duckdb")]) == 2
    assert capsys.readouterr().out.splitlines() == [
        f"DAGSTER_HOME is a file ({history}): expected a folder for the run history"]


def test_run_help_names_the_settings_it_reads_and_its_exit_codes(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    read = {name for module in SETTINGS_MODULES for name in re.findall(r'"(TURNOUT_[A-Z_]+)"', module.read_text())}
    assert read >= {"TURNOUT_WAREHOUSE", "TURNOUT_LOCK_TIMEOUT", "TURNOUT_DUCKDB_MEMORY_LIMIT"}
    for name in [*sorted(read), "SOURCES__<VENDOR>__<KEY>", "DAGSTER_HOME", ".dlt/config.toml", ".dlt/secrets.toml"]:
        assert name in out, name
    for key in ("lookback_days", "api_key*", "client_secret*", "business_unit_ids", "event_ids"):
        assert key in out, key
    codes = [line.split()[0] for line in out.split("exit codes:", 1)[1].splitlines() if line[:3].strip().isdigit()]
    assert codes == ["0", "1", "2", "3"]


def test_run_without_configuration_names_the_missing_settings(warehouse, capsys):
    exit_code = main(["run", "--warehouse", str(warehouse)])
    out = capsys.readouterr().out
    assert exit_code != 0
    assert "OPUS DX: not configured, skipped" in out
    assert "SOURCES__OPUS__BASE_URL" in out and "SOURCES__OPUS__API_KEY" in out


@pytest.mark.e2e
def test_a_rejected_key_fails_naming_the_vendor_and_never_leaks(
    opus_server, warehouse, instance, monkeypatch
):
    monkeypatch.setenv("SOURCES__OPUS__BASE_URL", opus_server.base_url)
    monkeypatch.setenv("SOURCES__OPUS__API_KEY", WRONG_KEY)

    outcome = run_daily_load(warehouse, instance=instance)

    assert not outcome.ok
    failure = " ".join(outcome.failures)
    assert "OPUS DX" in failure and "credential rejected" in failure and "401" in failure
    assert WRONG_KEY not in failure
    [run] = instance.get_runs()
    event_log = "\n".join(repr(entry) for entry in instance.all_logs(run.run_id))
    assert "credential rejected" in event_log  # the failure is recorded...
    assert WRONG_KEY not in event_log  # ...without the key


@pytest.mark.e2e
def test_run_cli_summarises_and_exits_non_zero_on_a_rejected_key(
    opus_server, warehouse, monkeypatch, capsys
):
    monkeypatch.setenv("SOURCES__OPUS__BASE_URL", opus_server.base_url)
    monkeypatch.setenv("SOURCES__OPUS__API_KEY", WRONG_KEY)
    monkeypatch.setenv("DAGSTER_HOME", str(warehouse.parent / "dagster_home"))

    exit_code = main(["run", "--warehouse", str(warehouse)])

    out = capsys.readouterr().out
    assert exit_code == 1
    assert "OPUS DX" in out and "load failed" in out
    logs = "".join(p.read_text() for p in (warehouse.parent / "logs").glob("*.log"))
    assert WRONG_KEY not in out + logs


def test_sandbox_prints_settings_then_serves(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "assets.cli", "sandbox", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        settings = {}
        for line in process.stdout:
            match = re.fullmatch(r"export (\w+)=(\S+)\n", line)
            if match:
                settings[match[1]] = match[2]
            if line.startswith("#"):
                break
        assert {"SOURCES__OPUS__BASE_URL", "SOURCES__OPUS__API_KEY"} <= set(settings)
        assert {"SOURCES__EVENTBOOKINGS__BASE_URL", "SOURCES__EVENTBOOKINGS__TOKEN_URL",
                "SOURCES__EVENTBOOKINGS__CLIENT_ID", "SOURCES__EVENTBOOKINGS__CLIENT_SECRET"} <= set(settings)
        token = httpx.post(settings["SOURCES__EVENTBOOKINGS__TOKEN_URL"], data={
            "client_id": settings["SOURCES__EVENTBOOKINGS__CLIENT_ID"],
            "client_secret": settings["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"],
            "grant_type": "client_credentials"}).json()["access_token"]
        listed = httpx.get(f"{settings['SOURCES__EVENTBOOKINGS__BASE_URL']}/events",
                           headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()["events"]
        response = httpx.get(
            f"{settings['SOURCES__OPUS__BASE_URL']}/rest/api/v1/events",
            params={"api_key": settings["SOURCES__OPUS__API_KEY"]},
        )
        assert response.status_code == 200 and response.json()[0]["events"]
        assert {"SOURCES__BRP__BASE_URL", "SOURCES__BRP__API_KEY", "SOURCES__BRP__START_DATE"} <= set(settings)
        brp = httpx.get(f"{settings['SOURCES__BRP__BASE_URL']}/events.xml",
                        params={"apikey": settings["SOURCES__BRP__API_KEY"]})
        assert brp.status_code == 200 and b"<event>" in brp.content
        icareus = {name.removeprefix("SOURCES__ICAREUS__"): value for name, value in settings.items()
                   if name.startswith("SOURCES__ICAREUS__")}
        assert set(icareus) == {"BASE_URL", "ORGANIZATION_ID", "SECRET", "CLIENT_IP", "EVENT_IDS"}
        event_id = icareus["EVENT_IDS"].split(",")[0]
        event = httpx.get(f"{icareus['BASE_URL']}/api/event",
                          params={"eventId": event_id, "organizationId": icareus["ORGANIZATION_ID"]},
                          headers={"Authorization": "Bearer " + sign_token(
                              icareus["ORGANIZATION_ID"], icareus["SECRET"], icareus["CLIENT_IP"], time.time())})
        assert event.status_code == 200 and event.json()["event"]["rooms"]
        advanced = httpx.post(f"{settings['SOURCES__OPUS__BASE_URL']}/_sandbox/advance?days=1")
        assert advanced.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_demo_never_overwrites_a_warehouse_it_was_pointed_at(tmp_path):
    # What a demo loads is checked in tests/test_secrets.py, which runs one.
    warehouse = tmp_path / "demo" / "demo.duckdb"
    warehouse.parent.mkdir()
    warehouse.write_bytes(b"an analyst's warehouse")

    assert main(["demo", "--days", "0", "--warehouse", str(warehouse)]) == 2
    assert warehouse.read_bytes() == b"an analyst's warehouse"


@pytest.mark.e2e
def test_an_unconfigured_vendor_never_loaded_is_skipped_and_the_rest_builds(
    opus_server, warehouse, instance, monkeypatch
):
    # Only the second account is configured; OPUS itself never was.
    for name, value in opus_server.app.settings(opus_server.base_url).items():
        monkeypatch.setenv(name.replace("__OPUS__", "__OPUS_SECOND__"), value)

    outcome = run_daily_load(warehouse, instance=instance, vendors=(OPUS, SECOND_OPUS))

    assert outcome.ok, (outcome.failures, outcome.checks_failed)
    assert set(outcome.skipped_vendors) == {"OPUS DX"}
    assert outcome.loaded_vendors == ["OPUS DX (second account)"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schemas = {s for (s,) in con.execute("select schema_name from information_schema.schemata").fetchall()}
        assert "raw_opus" not in schemas
        assert con.execute("select count(*) from raw_opus_second.events").fetchone()[0] > 0
        # The marts are built, typed and empty: no vendor with staging models has data yet.
        assert con.execute("select count(*) from marts.dim_events").fetchone()[0] == 0
        starts_at_type = con.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'dim_events' and column_name = 'starts_at'"
        ).fetchone()[0]
    assert starts_at_type == "TIMESTAMP WITH TIME ZONE"
