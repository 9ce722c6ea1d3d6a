"""Secrets: none reaches anything a run leaves behind, and they come only from configuration.

The whole demo is run once, as a new process, with distinctive secrets for
every vendor in its environment (the demo's sandboxes then accept exactly
those). One test looks for them, their URL-encoded forms and the access tokens
issued or signed during the run in its output and in every file it wrote: logs,
Dagster's storage and event logs, dlt's folders, the warehouse and dbt's
artifacts; another checks what the demo loaded.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets import cli
from assets.settings import PROJECT_ROOT, pipelines_dir
from pipelines.icareus.helpers import sign_token
from pipelines.registry import VENDORS
from sandboxes.brp import DEMO_API_KEY as BRP_DEFAULT_KEY
from sandboxes.eventbookings import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sandboxes.icareus import DEFAULT_CLIENT_IP, DEMO_ORGANIZATION_ID, DEMO_SECRET, OTHER_SECRET
from sandboxes.opus import DEMO_API_KEY as OPUS_DEFAULT_KEY
from tests.secret_scan import Scan, forms
from tests.settings import isolate

DEMO_TIMEOUT_SECONDS = 900
# Icareus tokens are signed with the clock's seconds: every second of the run, and some slack.
SIGNING_SLACK_SECONDS = 60
# Not walked for files a run wrote: the environment and the repository's history.
NOT_WRITTEN_BY_RUNS = (".venv", ".git")
EXAMPLE_SECRETS = PROJECT_ROOT / ".dlt" / "secrets.toml.example"
PLACEHOLDER_PREFIX = "your "
# A credential given a literal value, in Python, TOML, YAML or JSON: `api_key = "..."`,
# `"client_secret": "..."`. A value built at run time (an f-string, a call) does not match.
CREDENTIAL_ASSIGNMENT = (
    r"""(?im)^[ \t]*["']?(\w*(?:api_?key|secret|password|passwd|token|client_id))["']?"""
    r"""[ \t]*[:=][ \t]*(["'])(.*?)\2"""
)
# dbt's profile reads a credential from the environment when it runs: no value is committed.
READ_AT_RUN_TIME = re.compile(r"\{\{\s*env_var\([^)]*\)\s*\}\}")


@dataclass(frozen=True)
class Demo:
    """One `turnout demo --days 1` run, and where it left what it wrote."""

    root: Path  # everything the run wrote outside the project: warehouse, DAGSTER_HOME, DLT_DATA_DIR
    warehouse: Path
    dlt_data_dir: Path
    secrets: dict[str, str]
    served: dict[str, Any]  # what its sandboxes served with, and the tokens they issued
    done: subprocess.CompletedProcess[str]
    started: float
    finished: float


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    report_file = tmp_path_factory.mktemp("served") / "report.json"  # outside what is scanned
    with pytest.MonkeyPatch.context() as patch:
        isolate(patch, root)
        secrets = _distinctive_secrets()
        warehouse = root / "warehouse" / "demo.duckdb"
        started = time.time()
        done = _run_demo(warehouse, root / "dagster_home", secrets, report_file)
        finished = time.time()
        served = json.loads(report_file.read_text()) if report_file.exists() else {}
        yield Demo(root, warehouse, Path(os.environ["DLT_DATA_DIR"]), secrets, served, done, started, finished)


@pytest.mark.e2e
@pytest.mark.reliability
def test_no_secret_reaches_anything_the_demo_leaves_behind(demo, tmp_path_factory, reliability):
    reliability.trial(
        area="Secrets",
        injected="distinctive secrets for all four vendors in the environment of `turnout demo --days 1`, "
                 "run as a new process; its sandboxes accept only those",
        how_often="one demo: day 0 and one simulated day, every vendor",
        checked="stdout, stderr and every file the run wrote (run logs, Dagster storage and sqlite event "
                "logs, dlt pipeline folder and data dir, the DuckDB warehouse table by table, dbt "
                "artifacts) hold no secret, no URL-encoded form of one and no access token issued "
                "(EventBookings) or signed (Icareus) during the run",
    )
    secrets, done = demo.secrets, demo.done
    assert done.returncode == 0, f"the demo failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    # The sandboxes served with these secrets, so the run could only have used them.
    assert {name: demo.served["settings"].get(name) for name in secrets} == secrets
    issued = demo.served["tokens"]
    assert issued, "the EventBookings sandbox issued no token: the demo never signed in"
    scan = Scan(_needles(secrets, issued), _icareus_tokens(secrets, demo.started, demo.finished))
    scan.text("the demo's stdout", done.stdout)
    scan.text("the demo's stderr", done.stderr)
    # demo.root holds the warehouse, its logs and dlt pipeline folder, DAGSTER_HOME and DLT_DATA_DIR.
    assert pipelines_dir(demo.warehouse).is_dir() and demo.dlt_data_dir.is_relative_to(demo.root)
    scan.tree(demo.root)
    run_files = scan.files
    # dbt writes its target/ and logs in the project; anything else a run wrote there is looked at too.
    scan.tree(PROJECT_ROOT, newer_than=demo.started - 1, skip=NOT_WRITTEN_BY_RUNS)
    _assert_dbt_artifacts_were_scanned(scan, demo.root / "dagster_home")
    reliability.measured(
        f"{run_files} files of the run and {scan.files - run_files} of the project changed meanwhile (dbt's "
        f"among them; {scan.bytes / 1e6:.1f} MB read, decompressed and table text included), "
        f"{scan.tables} tables and {scan.rows:,} rows, stdout and stderr scanned for "
        f"{len(secrets)} secrets ({len(scan.needles) - len(issued)} spellings), {len(issued)} OAuth tokens and "
        f"{len(scan.hex_tokens)} possible Icareus tokens; {len(scan.findings)} found; "
        f"demo {demo.finished - demo.started:.0f} s"
    )

    assert not scan.findings, "secrets leaked:\n" + "\n".join(str(f) for f in scan.findings[:50])
    # The scan can fail: the same needles find a secret planted where a run could have left it.
    planted = tmp_path_factory.mktemp("planted")
    some_secret = next(iter(secrets.values()))
    (planted / "run.log").write_text(f"GET /events?api_key={quote(some_secret, safe='')} 200\n")
    guard = Scan(scan.needles)
    guard.tree(planted)
    assert guard.findings and all(f.where.endswith("run.log") for f in guard.findings)


@pytest.mark.e2e
def test_the_demo_loads_every_vendor_on_day_zero_and_a_simulated_day(demo):
    assert demo.done.returncode == 0, f"the demo failed:\n{demo.done.stdout[-4000:]}\n{demo.done.stderr[-4000:]}"
    assert "load succeeded" in demo.done.stdout and "dev -w workspace.yaml" in demo.done.stdout
    with duckdb.connect(str(demo.warehouse), read_only=True) as con:
        loads = {vendor.name: con.execute(f"select count(*) from {vendor.dataset}._dlt_loads").fetchone()[0]
                 for vendor in VENDORS}
        people = con.execute("select count(*) from marts.dim_people").fetchone()[0]
        rooms = con.execute("select count(*) from marts.dim_sessions where vendor = 'icareus'").fetchone()[0]
    assert loads == {vendor.name: 2 for vendor in VENDORS}  # day 0 and one simulated day
    assert people > 0 and rooms > 0


def test_the_scan_finds_secrets_in_text_compressed_files_and_databases(tmp_path):
    secret, token = f"key-{uuid.uuid4().hex}/+=", sign_token(DEMO_ORGANIZATION_ID, "s", DEFAULT_CLIENT_IP, 1e9)
    needles = {f"the key as {form!r}": form for form in forms(secret)}
    (tmp_path / "clean.txt").write_text("nothing to see here\n")
    (tmp_path / "request.log").write_text(f"POST /connect/token client_secret={quote_plus(secret)}\n")
    (tmp_path / "header.log").write_text(f"Authorization: Bearer {token}\n")
    (tmp_path / "load.jsonl.gz").write_bytes(gzip.compress(f'{{"note": "{secret}"}}\n'.encode()))
    # Compressed without statistics, Parquet hides the value from a byte search: only its rows show it.
    rows = [f"{n}: {secret}" for n in range(5000)]
    pq.write_table(pa.table({"note": rows}), tmp_path / "job.parquet", compression="zstd", write_statistics=False)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("create schema raw; create table raw.notes as select unnest(?) as note", [rows])
    with closing(sqlite3.connect(tmp_path / "events.db")) as con, con:
        con.execute("create table event_logs (event text)")
        con.execute("insert into event_logs values (?)", [f'{{"message": "{secret}"}}'])

    scan = Scan(needles, {token: "an Icareus token"})
    scan.tree(tmp_path)

    where = {Path(f.where.split(" ")[0]).name for f in scan.findings}
    assert where == {"request.log", "header.log", "load.jsonl.gz", "job.parquet", "warehouse.duckdb", "events.db"}
    parquet = [f.where for f in scan.findings if "job.parquet" in f.where]
    assert parquet and all(where.endswith("(Parquet rows)") for where in parquet)
    assert any(f.where.endswith("table raw.notes") for f in scan.findings)
    assert any(f.where.endswith("table event_logs") for f in scan.findings)
    assert any(f.what == "an Icareus token" for f in scan.findings)


def test_demo_sandboxes_take_configured_credentials_else_ones_drawn_per_process(monkeypatch):
    monkeypatch.setenv("SOURCES__OPUS__API_KEY", "opus-configured-key")
    monkeypatch.setenv("SOURCES__EVENTBOOKINGS__CLIENT_SECRET", "eventbookings-configured-secret")

    with ExitStack() as stack:
        settings = {name: value for server in cli._start_sandboxes(stack, 1, "small", port=0)
                    for name, value in server.app.settings(server.base_url).items()}

    assert settings["SOURCES__OPUS__API_KEY"] == "opus-configured-key"
    assert settings["SOURCES__EVENTBOOKINGS__CLIENT_SECRET"] == "eventbookings-configured-secret"
    drawn = [settings[name] for name in
             ("SOURCES__EVENTBOOKINGS__CLIENT_ID", "SOURCES__BRP__API_KEY", "SOURCES__ICAREUS__SECRET")]
    assert drawn == [DEMO_CLIENT_ID, BRP_DEFAULT_KEY, DEMO_SECRET]
    assert _default_key_in_a_new_process() not in {OPUS_DEFAULT_KEY, ""}


def test_secrets_come_only_from_configuration():
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert _git("check-ignore", "--quiet", ".dlt/secrets.toml").returncode == 0, ".dlt/secrets.toml is not git-ignored"
    tracked = [name for name in _git("ls-files", "-z").stdout.split("\0") if name]
    assert ".dlt/secrets.toml" not in tracked
    _assert_example_holds_placeholders_for_every_secret()
    config = tomllib.loads((PROJECT_ROOT / ".dlt" / "config.toml").read_text())
    for vendor in VENDORS:
        in_config = set(vendor.secret_settings) & set(config.get("sources", {}).get(vendor.name, {}))
        assert not in_config, f".dlt/config.toml holds secrets of {vendor.title}: {in_config}"
    assert not _committed_credentials(tracked)


def _distinctive_secrets() -> dict[str, str]:
    """A value per secret setting of every vendor, unique to this run, with characters
    that URL encoding changes, so that an encoded leak is an encoded form of it."""
    return {
        vendor.env_name(setting): f"{vendor.name}-{setting.replace('_', '-')}-{uuid.uuid4().hex}/+="
        for vendor in VENDORS
        for setting in vendor.secret_settings
    }


def _run_demo(warehouse: Path, dagster_home: Path, secrets: dict[str, str], report_file: Path
              ) -> subprocess.CompletedProcess[str]:
    # tests.demo_tokens is `python -m assets.cli` that also reports what its sandboxes served with.
    command = [sys.executable, "-m", "tests.demo_tokens", str(report_file),
               "demo", "--days", "1", "--warehouse", str(warehouse)]
    env = {**os.environ, **secrets, "DAGSTER_HOME": str(dagster_home), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT,
                          timeout=DEMO_TIMEOUT_SECONDS)


def _needles(secrets: dict[str, str], tokens: list[str]) -> dict[str, str]:
    needles = {f"{name} as {form!r}": form for name, value in secrets.items() for form in forms(value)}
    # The unique part alone catches any other spelling of a secret (escaped, split at the '/').
    needles.update({f"{name}'s unique part": value.rsplit("-", 1)[1][:32] for name, value in secrets.items()})
    needles.update({f"EventBookings access token #{n}": token for n, token in enumerate(tokens, 1)})
    return needles


def _icareus_tokens(secrets: dict[str, str], started: float, finished: float) -> dict[str, str]:
    """Every bearer token the Icareus client could have signed during the run."""
    secret = secrets[next(v for v in VENDORS if v.name == "icareus").env_name("secret")]
    seconds = range(int(started) - SIGNING_SLACK_SECONDS, int(finished) + SIGNING_SLACK_SECONDS)
    return {sign_token(DEMO_ORGANIZATION_ID, secret, DEFAULT_CLIENT_IP, t): "an Icareus token" for t in seconds}


def _assert_dbt_artifacts_were_scanned(scan: Scan, dagster_home: Path) -> None:
    """dagster-dbt gives each dbt invocation its own target folder, named after the run."""
    runs = dagster_home / "history" / "runs.db"
    with closing(sqlite3.connect(f"file:{runs}?mode=ro", uri=True)) as con:
        run_ids = [run_id for (run_id,) in con.execute("select run_id from runs")]
    assert run_ids, f"no Dagster run in {runs}"
    target = PROJECT_ROOT / "dbt_models" / "target"
    for run_id in run_ids:
        folders = list(target.glob(f"dbt_models-{run_id[:7]}-*"))
        assert folders, f"no dbt target folder for run {run_id} in {target}"
        assert any(str(folder) in path for folder in folders for path in scan.scanned)


def _assert_example_holds_placeholders_for_every_secret() -> None:
    example = tomllib.loads(EXAMPLE_SECRETS.read_text())
    for vendor in VENDORS:
        section = example["sources"][vendor.name]
        assert set(vendor.secret_settings) <= set(section), f"{EXAMPLE_SECRETS.name} misses a {vendor.title} secret"
        for name, value in section.items():
            assert isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX), (vendor.name, name, value)


def _committed_credentials(tracked: list[str]) -> list[str]:
    """Tracked files holding a sandbox's credential or a credential given a literal value.

    Tests are left out of the second check: they use made-up wrong keys on purpose.
    """
    sandbox_defaults = (OPUS_DEFAULT_KEY, BRP_DEFAULT_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
                        DEMO_SECRET, OTHER_SECRET)
    assignment = re.compile(CREDENTIAL_ASSIGNMENT)
    found = []
    for name in tracked:
        try:
            text = (PROJECT_ROOT / name).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            continue  # deleted in the working tree, or not text
        found += [f"{name}: a sandbox credential" for secret in sandbox_defaults if secret in text]
        if name.startswith("tests/"):
            continue
        found += [f"{name}: {match[1]} = {match[3]!r}" for match in assignment.finditer(text)
                  if not match[3].startswith(PLACEHOLDER_PREFIX) and not READ_AT_RUN_TIME.fullmatch(match[3])]
    return found


def _default_key_in_a_new_process() -> str:
    code = "from sandboxes.opus import DEMO_API_KEY; print(DEMO_API_KEY)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PROJECT_ROOT).stdout.strip()


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False)
