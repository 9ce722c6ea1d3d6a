"""Reading back what a run wrote: the warehouse, opened read-only, and the Dagster event log."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def event_log(instance: dg.DagsterInstance) -> str:
    """Every event of every run the instance holds, as text."""
    return "\n".join(repr(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id))
