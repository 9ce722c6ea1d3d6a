"""Schema drift: what a load changed in the shape of a vendor's raw tables.

dlt lets a payload change land: a new field becomes a new column, a field
whose type changed lands in a variant column (`<field>__v_<type>`). A field
that stops arriving leaves its column NULL. None of that stops a load, so
each is reported here, for the run summary and Dagster's event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from assets.warehouse import DUCKDB, Warehouse

VARIANT_MARK = "__v_"
DLT_PREFIX = "_dlt"
# A column is reported gone only when a load wrote at least this many rows,
# none of them with it, while most earlier rows had it: an optional field
# that happens to be empty in a small load is not drift.
MIN_ROWS_FOR_GONE = 10
EARLIER_SHARE_FOR_GONE = 0.5
# Text columns as each engine's information_schema names them (DuckDB; PostgreSQL).
TEXT_TYPES = {"VARCHAR", "CHARACTER VARYING", "TEXT"}

Columns = dict[str, set[str]]  # table -> column names


@dataclass(frozen=True)
class Drift:
    table: str
    kind: str  # "new column", "changed type", "now JSON", "no longer sent"
    column: str

    def __str__(self) -> str:
        if self.kind == "changed type":
            field = self.column.split(VARIANT_MARK, 1)[0]
            return f"{self.table}.{field}: changed type, new values land in {self.column}"
        if self.kind == "new column":
            return f"{self.table}.{self.column}: new field, new column"
        if self.kind == "now JSON":
            return f"{self.table}.{self.column}: changed type, now JSON objects or lists (kept as JSON text)"
        return f"{self.table}.{self.column}: no longer sent (NULL in every row of this load)"


def dataset_columns(warehouse: Warehouse, dataset: str) -> Columns:
    """Every table's columns in a dataset, skipping dlt's own tables; empty if none yet."""
    if not warehouse.exists():
        return {}
    with warehouse.within_a_write() as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = ?",
            [dataset]).fetchall()
    columns: Columns = {}
    for table, column in rows:
        if not table.startswith(DLT_PREFIX):
            columns.setdefault(table, set()).add(column)
    return columns


def load_ids(warehouse: Warehouse, dataset: str) -> set[str]:
    if not warehouse.exists():
        return set()
    with warehouse.within_a_write() as con:
        present = con.execute("select count(*) from information_schema.tables "
                              "where table_schema = ? and table_name = '_dlt_loads'", [dataset]).fetchone()[0]
        if not present:
            return set()
        return {row[0] for row in con.execute(f'select load_id from "{dataset}"._dlt_loads').fetchall()}


def new_columns(before: Columns, after: Columns) -> list[Drift]:
    """Columns that appeared in tables that existed before (a new table is not drift)."""
    drift = []
    for table in sorted(before):
        for column in sorted(after.get(table, set()) - before[table]):
            if column.startswith(DLT_PREFIX):
                continue
            kind = "changed type" if VARIANT_MARK in column else "new column"
            drift.append(Drift(table, kind, column))
    return drift


def gone_columns(warehouse: Warehouse, dataset: str, tables: Mapping[str, set[str]],
                 loads: Iterable[str]) -> list[Drift]:
    """Columns no row of these loads has, that most earlier rows had; and text columns that
    now hold JSON objects or lists where no earlier row did (dlt stores an object sent for a
    text field as JSON text in the same column, so no variant column shows that change)."""
    loads = sorted(loads)
    if not loads:
        return []
    drift = []
    marks = ", ".join("?" for _ in loads)
    with warehouse.within_a_write() as con:
        for table in sorted(tables):
            types = _columns_of(con, dataset, table)
            columns = sorted(c for c in tables[table] if c in types and not c.startswith(DLT_PREFIX)
                             and VARIANT_MARK not in c)
            if not columns or "_dlt_load_id" not in types:
                continue
            texts = [c for c in columns if types[c].upper() in TEXT_TYPES]
            counts = ", ".join([f'count("{c}")' for c in columns]
                               + [_json_count(c, warehouse.engine) for c in texts])
            base = f'select count(*), {counts} from "{dataset}"."{table}"'
            now = con.execute(f"{base} where _dlt_load_id in ({marks})", loads).fetchone()
            earlier = con.execute(f"{base} where _dlt_load_id not in ({marks})", loads).fetchone()
            if not now[0] or not earlier[0]:
                continue
            for index, column in enumerate(texts, start=1 + len(columns)):
                if now[index] and not earlier[index]:
                    drift.append(Drift(table, "now JSON", column))
            if now[0] < MIN_ROWS_FOR_GONE:
                continue
            for index, column in enumerate(columns, start=1):
                if now[index] == 0 and earlier[index] / earlier[0] >= EARLIER_SHARE_FOR_GONE:
                    drift.append(Drift(table, "no longer sent", column))
    return drift


def _json_count(column: str, engine: str) -> str:
    looks_like_json = f"""left(ltrim("{column}"), 1) in ('{{', '[')"""
    # PostgreSQL 15 has no test for valid JSON short of casting, which fails the query on the
    # first row that is not: there, text that opens like a JSON object or list counts.
    valid = f""" and json_valid("{column}")""" if engine == DUCKDB else ""
    return f"count(*) filter (where {looks_like_json}{valid})"


def _columns_of(con: Any, dataset: str, table: str) -> dict[str, str]:
    return dict(con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        [dataset, table]).fetchall())
