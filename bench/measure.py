"""What the benchmark measures: wall time and peak memory of a process tree, requests the
sandboxes served, rows a load landed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from assets.warehouse import Warehouse

# Memory is sampled this often; a child that lives less long (a dbt compile) may be missed.
SAMPLE_SECONDS = 0.05
SANDBOX_READY = "sandbox(es) serving"
SANDBOX_START_SECONDS = 300  # building `large` data takes a while
BASE_URL_SUFFIX = "__BASE_URL"
DLT_TABLE_PREFIX = "_dlt_"
NESTED_SEPARATOR = "__"


@dataclass
class Measurement:
    """One contender's run: what it cost and what it landed."""

    label: str
    wall_seconds: float
    requests: int | None
    rows: int | None
    peak_rss_bytes: int | None
    note: str = ""

    @property
    def rows_per_second(self) -> float | None:
        if not self.rows or not self.wall_seconds:
            return None
        return self.rows / self.wall_seconds


@dataclass
class ProcessRun:
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    log: Path


def run_process_tree(command: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path) -> ProcessRun:
    """Runs command to its end, sampling the summed RSS of it and all its descendants."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        started = time.perf_counter()
        process = psutil.Popen(list(command), env=dict(env), stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process))
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - started
    return ProcessRun(process.returncode, wall, peak, log)


def tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass  # it ended between the listing and the reading
    return total


class Sandboxes:
    """The four vendor sandboxes, served by `turnout sandbox` in a process of their own so that
    their work does not count against the contenders' memory."""

    def __init__(self, settings: dict[str, str]) -> None:
        self.settings = settings

    def roots(self) -> dict[str, str]:
        """Vendor name -> http://host:port where the sandbox's control routes live."""
        roots = {}
        for name, value in self.settings.items():
            if name.endswith(BASE_URL_SUFFIX):
                vendor = name.removeprefix("SOURCES__").removesuffix(BASE_URL_SUFFIX).lower()
                url = httpx.URL(value)
                roots[vendor] = f"{url.scheme}://{url.host}:{url.port}"
        return roots

    def requests_served(self) -> dict[str, int]:
        """Vendor API requests each sandbox has answered so far (control routes not counted)."""
        return {vendor: httpx.get(f"{root}/_sandbox/faults").json()["requests"]
                for vendor, root in self.roots().items()}

    def advance_one_day(self) -> str:
        """Moves every sandbox's clock a day on; returns the new simulated date."""
        today = ""
        for root in self.roots().values():
            response = httpx.post(f"{root}/_sandbox/advance", params={"days": 1}, timeout=600)
            response.raise_for_status()
            today = response.json()["today"]
        return today

    def today(self) -> str:
        root = next(iter(self.roots().values()))
        return httpx.get(f"{root}/_sandbox/clock").json()["today"]


@contextmanager
def serve_sandboxes(scale: str, latency_ms: float, seed: int, cwd: Path) -> Iterator[Sandboxes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SOURCES__")}
    command = [sys.executable, "-m", "assets.cli", "sandbox", "--scale", scale,
               "--latency-ms", str(latency_ms), "--seed", str(seed)]
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    try:
        settings = _read_settings(process)
        yield Sandboxes(settings)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _read_settings(process: subprocess.Popen[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    deadline = time.monotonic() + SANDBOX_START_SECONDS
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            settings[name] = value
        elif SANDBOX_READY in line:
            return settings
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"the sandboxes did not start (exit code {process.poll()})")


def load_ids(warehouse: Path | str, schemas: Sequence[str]) -> set[str]:
    """Every dlt load id already in these schemas' tables (a DuckDB file, or a PostgreSQL URL)."""
    place = Warehouse.of(warehouse)
    if not place.exists():
        return set()
    ids: set[str] = set()
    with place.reading() as con:
        for schema in schemas:
            if _has_table(con, schema, "_dlt_loads"):
                ids.update(row[0] for row in con.execute(f'select load_id from "{schema}"._dlt_loads').fetchall())
    return ids


def rows_landed(warehouse: Path | str, schemas: Sequence[str], loads_before: set[str]) -> int:
    """Rows the loads after loads_before wrote into these schemas' tables (dlt's own excluded).

    A nested table (`registrants__questions`) has no load id of its own: its rows count with
    the load of the parent row they belong to.
    """
    total = 0
    with Warehouse.of(warehouse).reading() as con:
        for schema in schemas:
            columns = _columns_by_table(con, schema)
            for table in columns:
                if table.startswith(DLT_TABLE_PREFIX):
                    continue
                total += _new_rows(con, schema, table, columns, loads_before)
    return total


def _new_rows(con: Any, schema: str, table: str,
              columns: dict[str, set[str]], loads_before: set[str]) -> int:
    chain = [table]
    while "_dlt_load_id" not in columns[chain[-1]] and NESTED_SEPARATOR in chain[-1]:
        parent = chain[-1].rsplit(NESTED_SEPARATOR, 1)[0]
        if parent not in columns or "_dlt_parent_id" not in columns[chain[-1]]:
            break
        chain.append(parent)
    joins = " ".join(
        f'join "{schema}"."{parent}" t{i + 1} on t{i}._dlt_parent_id = t{i + 1}._dlt_id'
        for i, parent in enumerate(chain[1:])
    )
    top = f"t{len(chain) - 1}"
    if "_dlt_load_id" not in columns[chain[-1]] or not loads_before:
        where, params = "", []
    else:
        where, params = f"where {top}._dlt_load_id not in (select unnest(?))", [sorted(loads_before)]
    return con.execute(f'select count(*) from "{schema}"."{table}" t0 {joins} {where}', params).fetchone()[0]


def _columns_by_table(con: Any, schema: str) -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = ?", [schema]
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    return columns


def _has_table(con: Any, schema: str, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? "
                            "and table_name = ?", [schema, table]).fetchone()[0])
