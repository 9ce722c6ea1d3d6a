"""The benchmark: its measurements, and one run of it end to end at scale small."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from bench.measure import load_ids, rows_landed, run_process_tree, tree_rss

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _warehouse_with_nested_rows(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw_x")
        con.execute("create table raw_x._dlt_loads (load_id varchar)")
        con.execute("insert into raw_x._dlt_loads values ('1'), ('2')")
        con.execute("create table raw_x.registrants (_dlt_id varchar, _dlt_load_id varchar)")
        con.execute("insert into raw_x.registrants values ('a', '1'), ('b', '1'), ('c', '2')")
        # A nested list: no load id of its own, rows belong to their parent's load.
        con.execute("create table raw_x.registrants__questions (_dlt_id varchar, _dlt_parent_id varchar)")
        con.execute("insert into raw_x.registrants__questions values ('q1', 'a'), ('q2', 'c'), ('q3', 'c')")
        con.execute("create table raw_x.registrants__questions__answers (_dlt_id varchar, _dlt_parent_id varchar)")
        con.execute("insert into raw_x.registrants__questions__answers values ('x', 'q1'), ('y', 'q3')")


def test_rows_landed_counts_the_new_loads_with_their_nested_rows(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    _warehouse_with_nested_rows(warehouse)
    assert load_ids(warehouse, ["raw_x"]) == {"1", "2"}
    assert rows_landed(warehouse, ["raw_x"], set()) == 3 + 3 + 2
    # Load 2 wrote registrant c, its two questions and one answer.
    assert rows_landed(warehouse, ["raw_x"], {"1"}) == 1 + 2 + 1
    assert rows_landed(warehouse, ["raw_x"], {"1", "2"}) == 0


def test_peak_memory_covers_the_whole_process_tree(tmp_path: Path) -> None:
    # The child allocates ~200 MB and holds it; the parent only waits for it.
    child = "b = bytearray(200 * 1024 * 1024); import time; time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    run = run_process_tree([sys.executable, "-c", parent], os.environ, tmp_path / "log", cwd=tmp_path)
    assert run.returncode == 0
    assert run.peak_rss_bytes > 200 * 1024 * 1024
    assert 1.5 <= run.wall_seconds < 30


def test_tree_rss_of_a_finished_process_is_zero() -> None:
    process = psutil.Popen([sys.executable, "-c", "pass"])
    process.wait()
    time.sleep(0.1)
    assert tree_rss(process) == 0


def _number(cell: str) -> float:
    return float(cell.replace(",", "")) if cell else 0.0


def _rows(output: str) -> dict[str, dict[str, float]]:
    """The benchmark's Markdown table rows by label: wall seconds, requests, rows landed."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 4 and re.fullmatch(r"[\d.]+", cells[1]):
            rows[cells[0]] = {"wall": _number(cells[1]), "requests": _number(cells[2]), "rows": _number(cells[3])}
    return rows


def _postgres_server(request: pytest.FixtureRequest) -> str | None:
    """The tests' PostgreSQL server's URL, or None where there is none (the rows on it are then left out)."""
    try:
        return request.getfixturevalue("postgres_server").url
    except pytest.skip.Exception:
        return None


@pytest.mark.e2e
def test_benchmark_prints_every_row_at_small_scale(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    postgres = _postgres_server(request)
    env = {**os.environ, **({"TURNOUT_BENCH_POSTGRES_URL": postgres} if postgres else {})}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--scales", "small", "--latency-ms", "5", "--workdir", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1200, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _rows(result.stdout)
    full = rows["Turnout: full first load, 4 vendors"]
    naive = rows["Naive: sequential, dlt defaults, 4 vendors"]
    pair = rows["Turnout: OPUS + EventBookings"]
    peer = rows["Peer: dlt rest_api, OPUS + EventBookings"]
    daily = rows["Turnout: daily run, one day later"]
    floor = rows["Floor: full load's requests × latency ÷ concurrency"]
    steps = rows["… of which vendor steps (extract, normalise, load)"]
    extraction = rows["… of which extraction (dlt's extract step)"]
    dbt = rows["… of which dbt build and tests"]
    start_up = rows["… of which start-up and the rest"]
    daily_steps = rows["… of which vendor steps (extract, normalise, load), daily run"]
    daily_extraction = rows["… of which extraction (dlt's extract step), daily run"]
    daily_dbt = rows["… of which dbt build and tests, daily run"]
    # The baseline is the same extraction: the same requests, and the same rows land.
    assert naive["requests"] == full["requests"] > 0
    assert naive["rows"] == full["rows"] > 0
    assert 0 < pair["requests"] < full["requests"] and 0 < pair["rows"] < full["rows"]
    assert peer["requests"] >= pair["requests"] and peer["rows"] > 0
    # A day later only what changed or is still active is read again.
    assert 0 < daily["requests"] and 0 < daily["rows"] < full["rows"]
    assert 0 < floor["wall"] < full["wall"]
    # Extraction is a part of the vendor steps, which are a part of the run.
    assert 0 < extraction["wall"] < steps["wall"] < full["wall"]
    assert extraction["requests"] == full["requests"]
    # Start-up is what the steps leave of the run: positive only if the steps read are this run's.
    assert 0 < dbt["wall"] < full["wall"] and 0 < start_up["wall"] < full["wall"]
    # The daily run is split the same way, from its own history and traces, not the full load's.
    assert 0 < daily_extraction["wall"] < daily_steps["wall"] < daily["wall"]
    assert 0 < daily_dbt["wall"] < daily["wall"]
    assert daily_extraction["requests"] == daily["requests"]
    assert "machine:" in result.stdout and "### targets" in result.stdout
    assert "MiB" in result.stdout
    if postgres:
        _assert_postgres_rows(rows, full, daily)
        assert postgres.split("@")[0].rsplit(":", 1)[1] not in result.stdout + result.stderr  # the password


def _assert_postgres_rows(rows: dict[str, dict[str, float]], full: dict[str, float], daily: dict[str, float]) -> None:
    """The same loads into PostgreSQL read the same requests and land the same rows; the daily
    run once more on each Dagster storage has a dbt step of its own."""
    on_server = rows["Turnout on PostgreSQL: full first load, 4 vendors"]
    daily_on_server = rows["Turnout on PostgreSQL: daily run, one day later"]
    assert on_server["requests"] == full["requests"] and on_server["rows"] == full["rows"]
    assert daily_on_server["requests"] == daily["requests"] and daily_on_server["rows"] == daily["rows"]
    server_dbt = rows["… of which dbt build and tests, on PostgreSQL: full first load, 4 vendors"]
    assert 0 < server_dbt["wall"] < on_server["wall"]
    for storage in ("SQLite", "PostgreSQL"):
        run = rows[f"Turnout: daily run again, Dagster storage in {storage}"]
        dbt = rows[f"… of which dbt build and tests, daily run again, Dagster storage in {storage}"]
        assert 0 < dbt["wall"] < run["wall"]
