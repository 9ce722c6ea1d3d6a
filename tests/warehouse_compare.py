"""Two warehouses compared table by table, as sorted multisets of rows.

What one load writes and another does not is left out: dlt's bookkeeping tables
(`_dlt_loads`, `_dlt_pipeline_state`, `_dlt_version`), dlt's merge staging
datasets (`raw_<vendor>_staging`), and the columns whose values are made up per
load (`_dlt_load_id`, and the random `_dlt_id` of each row). A nested table's
rows keep which parent row they belong to: `_dlt_parent_id` and `_dlt_root_id`
become a fingerprint of that parent's (root's) content, so a child row moved to
another parent, or a parent loaded twice with its children, still shows.

`_dlt_valid_from`/`_dlt_valid_to` (scd2) are compared: a run for a business
date other than today stamps that date (pipelines/vendor.py::scd2_by_event),
so runs given the same `--as-of` write the same values. Pass them in
`ignore_columns` to compare runs for today, which stamp the load time.

    comparison = compare_warehouses(clean, faulty)
    assert comparison.equal, comparison.report()
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets.warehouse import Warehouse

DLT_TABLES = frozenset({"_dlt_loads", "_dlt_pipeline_state", "_dlt_version"})
LOAD_SPECIFIC_COLUMNS = frozenset({"_dlt_load_id", "_dlt_id"})
LINK_COLUMNS = ("_dlt_parent_id", "_dlt_root_id")
RAW_PREFIX = "raw_"
DLT_STAGING_SUFFIX = "_staging"  # dlt's merge staging dataset beside each raw_<vendor>
MODEL_SCHEMAS = ("staging", "marts")
FLOAT_DIGITS = 9  # aggregates over doubles may differ in the last bits with summation order
SHOWN_ROWS = 5

Row = tuple[Any, ...]


@dataclass
class TableRows:
    """One table's columns (sorted by name) and its rows as a multiset."""

    columns: tuple[str, ...]
    rows: Counter[Row]

    @property
    def count(self) -> int:
        return sum(self.rows.values())


@dataclass
class TableDiff:
    table: str
    columns_only_left: tuple[str, ...] = ()
    columns_only_right: tuple[str, ...] = ()
    only_left: Counter[Row] = field(default_factory=Counter)
    only_right: Counter[Row] = field(default_factory=Counter)
    columns: tuple[str, ...] = ()

    def report(self, shown: int = SHOWN_ROWS) -> str:
        lines = [f"{self.table}:"]
        if self.columns_only_left or self.columns_only_right:
            lines.append(f"  columns only left {list(self.columns_only_left)}, "
                         f"only right {list(self.columns_only_right)}")
        for side, rows in (("left", self.only_left), ("right", self.only_right)):
            total = sum(rows.values())
            if not total:
                continue
            lines.append(f"  {total} row(s) only {side}, first {min(shown, len(rows))} of "
                         f"{len(rows)} distinct ({', '.join(self.columns)}):")
            for row in sorted(rows, key=repr)[:shown]:
                times = f"  x{rows[row]}" if rows[row] > 1 else ""
                lines.append(f"    {row!r}{times}")
        return "\n".join(lines)


@dataclass
class Comparison:
    left: Path | str
    right: Path | str
    tables: list[str]  # compared, in both
    rows_left: int
    rows_right: int
    tables_only_left: list[str] = field(default_factory=list)
    tables_only_right: list[str] = field(default_factory=list)
    diffs: list[TableDiff] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.tables_only_left or self.tables_only_right or self.diffs)

    def summary(self) -> str:
        verdict = "equal" if self.equal else (
            f"{len(self.diffs) + len(self.tables_only_left) + len(self.tables_only_right)} table(s) differ")
        return f"{len(self.tables)} tables, {self.rows_left:,} rows compared: {verdict}"

    def report(self, shown: int = SHOWN_ROWS) -> str:
        lines = [f"{Warehouse.of(self.left)} (left) vs {Warehouse.of(self.right)} (right): {self.summary()}"]
        if self.tables_only_left:
            lines.append(f"tables only left: {self.tables_only_left}")
        if self.tables_only_right:
            lines.append(f"tables only right: {self.tables_only_right}")
        lines.extend(diff.report(shown) for diff in self.diffs)
        return "\n".join(lines)


def compare_warehouses(
    left: Path | str,
    right: Path | str,
    schemas: Sequence[str] | None = None,
    ignore_columns: Iterable[str] = (),
) -> Comparison:
    """Every raw, staging and mart table (or those of `schemas`) of left against right."""
    ignored = LOAD_SPECIFIC_COLUMNS | set(ignore_columns)
    left_tables = snapshot(left, schemas, ignored)
    right_tables = snapshot(right, schemas, ignored)
    both = sorted(left_tables.keys() & right_tables.keys())
    comparison = Comparison(
        left=left,
        right=right,
        tables=both,
        rows_left=sum(t.count for t in left_tables.values()),
        rows_right=sum(t.count for t in right_tables.values()),
        tables_only_left=sorted(left_tables.keys() - right_tables.keys()),
        tables_only_right=sorted(right_tables.keys() - left_tables.keys()),
    )
    for name in both:
        diff = diff_table(name, left_tables[name], right_tables[name])
        if diff is not None:
            comparison.diffs.append(diff)
    return comparison


def diff_table(name: str, left: TableRows, right: TableRows) -> TableDiff | None:
    if left.columns != right.columns:
        return TableDiff(
            name,
            columns_only_left=tuple(c for c in left.columns if c not in right.columns),
            columns_only_right=tuple(c for c in right.columns if c not in left.columns),
        )
    only_left, only_right = left.rows - right.rows, right.rows - left.rows
    if not only_left and not only_right:
        return None
    return TableDiff(name, only_left=only_left, only_right=only_right, columns=left.columns)


def snapshot(
    warehouse: Path | str, schemas: Sequence[str] | None = None, ignored: Iterable[str] = LOAD_SPECIFIC_COLUMNS
) -> dict[str, TableRows]:
    """`schema.table` -> its rows, read from the warehouse (a DuckDB file, or a PostgreSQL URL)
    opened read-only."""
    ignored = set(ignored)
    with Warehouse.of(warehouse).reading() as con:
        listed = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        tables: dict[str, TableRows] = {}
        for schema in sorted({schema for schema, _ in listed}):
            if not _compared_schema(schema, schemas):
                continue
            names = [name for s, name in listed if s == schema and name not in DLT_TABLES]
            tables.update(_schema_rows(con, schema, names, ignored))
    return tables


def _compared_schema(schema: str, schemas: Sequence[str] | None) -> bool:
    if schemas is not None:
        return schema in schemas
    if schema.startswith(RAW_PREFIX):
        return not schema.endswith(DLT_STAGING_SUFFIX)
    return schema in MODEL_SCHEMAS


def _schema_rows(
    con: Any, schema: str, names: list[str], ignored: set[str]
) -> dict[str, TableRows]:
    """Rows of one schema's tables; a nested table's links become its parent's fingerprint.

    dlt names a nested table `<parent>__<field>`, so parents come before their
    children when the tables are taken shortest name first.
    """
    fingerprints: dict[str, dict[str, str]] = {}  # table -> _dlt_id -> fingerprint of its content
    result: dict[str, TableRows] = {}
    for name in sorted(names, key=lambda n: (n.count("__"), n)):
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by column_name", [schema, name]).fetchall()]
        kept = [c for c in columns if c not in ignored and c not in LINK_COLUMNS]
        links = [c for c in LINK_COLUMNS if c in columns]
        read = [*kept, *links, *(["_dlt_id"] if "_dlt_id" in columns else [])]
        parent = _parent_table(name, fingerprints)
        root = name.split("__")[0]
        own: dict[str, str] = {}
        rows: Counter[Row] = Counter()
        query = "select " + ", ".join(f'"{c}"' for c in read) + f' from "{schema}"."{name}"'
        for raw in con.execute(query).fetchall():
            values = tuple(_comparable(v) for v in raw[:len(kept)])
            linked = raw[len(kept):len(kept) + len(links)]
            resolved = tuple(
                _resolve(link_value, fingerprints.get(parent if column == "_dlt_parent_id" else root, {}))
                for column, link_value in zip(links, linked, strict=True)
            )
            row = values + resolved
            rows[row] += 1
            if "_dlt_id" in columns:
                own[raw[-1]] = _fingerprint(row)
        fingerprints[name] = own
        result[f"{schema}.{name}"] = TableRows(tuple(kept) + tuple(f"{c}(content)" for c in links), rows)
    return result


def _parent_table(name: str, known: dict[str, dict[str, str]]) -> str | None:
    parts = name.split("__")
    for end in range(len(parts) - 1, 0, -1):
        candidate = "__".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _resolve(link: Any, fingerprints: dict[str, str]) -> str | None:
    if link is None:
        return None
    return fingerprints.get(link, "<no parent row>")


def _fingerprint(row: Row) -> str:
    return hashlib.sha1(repr(row).encode()).hexdigest()[:16]


def _comparable(value: Any) -> Any:
    """A hashable value that compares equal exactly when the stored values are the same, on
    either engine: a number with a fraction as a float of FLOAT_DIGITS places (DuckDB may hold
    as DOUBLE what PostgreSQL holds as numeric), JSON as its canonical text (DuckDB reads JSON
    columns as text, PostgreSQL's jsonb as objects), a moment as an aware datetime (equal
    across time zones)."""
    if isinstance(value, float):
        return value if not math.isfinite(value) else round(value, FLOAT_DIGITS)
    if isinstance(value, decimal.Decimal):
        return round(float(value), FLOAT_DIGITS) if value.is_finite() else repr(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(value), sort_keys=True, default=str)
        except ValueError:
            return value
    if isinstance(value, (str, int, bool, dt.date, dt.datetime, dt.time, dt.timedelta)):
        return value
    if value is None:
        return None
    return repr(value)
