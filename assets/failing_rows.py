"""The rows behind a failed dbt test, named by vendor and by the vendor's own ids.

Every dbt test keeps its failing rows as a view in the `test_failures` schema
(`store_failures_as: view` in dbt_project.yml): a query, so it always shows what
fails now, at the cost of a view per test and no copy of the rows. A test that
returns whole rows (not_null, the singular tests) names its rows itself; one that
returns only the values it found (unique, accepted_values, relationships,
unique_combination) is joined back to its model on the tested columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assets.vendor_models import model_vendor

SHOWN_ROWS = 3
SHOWN_IDS = 4
UNIQUENESS_TESTS = {"unique", "unique_combination"}
SURROGATE_SUFFIX = "_key"  # a hash Turnout makes, meaningless to anyone looking the row up
VENDOR_COLUMN = "vendor"
# Turnout names a vendor's own ids vendor_<entity>_id in every layer.
VENDOR_ID = re.compile(r"^vendor_\w+_id$")


def failing_rows(con: Any, manifest: Mapping[str, Any], test_id: str) -> str | None:
    """'column status: opus: 2 rows (vendor_event_id=E1, vendor_session_id=S4; …)', the
    tested column and, per vendor, a few of the rows failing the test `test_id` of the dbt
    manifest; None when its failing rows cannot be read."""
    test = manifest.get("nodes", {}).get(test_id)
    if not test or not _exists(con, test["schema"], test["alias"]):
        return None
    failures = _relation(test["schema"], test["alias"])
    model = manifest["nodes"].get(test.get("attached_node") or "")
    rows, columns = failures, _columns(con, failures)
    if model and not _names_rows(columns):
        tested = _tested_columns(test)
        if tested and _exists(con, model["schema"], model["alias"]):
            rows = _joined_back(_relation(model["schema"], model["alias"]), failures, tested, columns)
            columns = _columns(con, _relation(model["schema"], model["alias"]))
    ids = _row_ids(manifest, model, test, columns)
    if not ids:
        return None
    vendor = _quoted(VENDOR_COLUMN) if VENDOR_COLUMN in columns else _literal(_model_vendor(model))
    described = _described(con, rows, vendor, ids)
    tested = _tested_columns(test)
    if described and tested:
        described = f"column{'s' if len(tested) > 1 else ''} {', '.join(tested)}: {described}"
    return described


def _described(con: Any, rows: str, vendor: str, ids: Sequence[str]) -> str | None:
    keys = ", ".join(_quoted(column) for column in ids)
    found = con.execute(f"""
        select vendor, rows_of_vendor, {keys}
        from (
            select {vendor} as vendor, {keys},
                   count(*) over (partition by {vendor}) as rows_of_vendor,
                   row_number() over (partition by {vendor} order by {keys}) as shown
            from {rows} as failing
        ) as numbered
        where shown <= {SHOWN_ROWS}
        order by vendor, {keys}
    """).fetchall()
    by_vendor: dict[str, tuple[int, list[str]]] = {}
    for vendor_name, count, *values in found:
        named = ", ".join(f"{column}={value}" for column, value in zip(ids, values, strict=True))
        by_vendor.setdefault(str(vendor_name), (count, []))[1].append(named)
    return "; ".join(
        f"{vendor_name}: {count} row{'s' if count != 1 else ''} ({'; '.join(shown)}{'; …' if count > len(shown) else ''})"
        for vendor_name, (count, shown) in by_vendor.items()
    ) or None


def _row_ids(
    manifest: Mapping[str, Any], model: Mapping[str, Any] | None, test: Mapping[str, Any], columns: Sequence[str]
) -> list[str]:
    """The columns that name a failing row: the vendor's ids and the model's own key (the
    columns its uniqueness tests cover) but not surrogate keys, nor the column a not_null
    test found empty."""
    key = set()
    if model:
        for node in manifest["nodes"].values():
            if node.get("attached_node") == model["unique_id"] and _test_name(node) in UNIQUENESS_TESTS:
                key.update(_tested_columns(node))
    empty = set(_tested_columns(test)) if _test_name(test) == "not_null" else set()
    named = [
        column for column in columns
        if (VENDOR_ID.match(column) or (column in key and not column.endswith(SURROGATE_SUFFIX)))
        and column not in empty
    ]
    return named[:SHOWN_IDS]


def _test_name(test: Mapping[str, Any]) -> str | None:
    return (test.get("test_metadata") or {}).get("name")


def _joined_back(model: str, failures: str, tested: Sequence[str], failure_columns: Sequence[str]) -> str:
    """The model's rows whose tested columns hold a value the test returned (its first columns)."""
    matches = " and ".join(
        f"cast(m.{_quoted(column)} as varchar) is not distinct from cast(f.{_quoted(found)} as varchar)"
        for column, found in zip(tested, failure_columns, strict=False)
    )
    return f"(select m.* from {model} as m where exists (select 1 from {failures} as f where {matches}))"


def _tested_columns(test: Mapping[str, Any]) -> list[str]:
    kwargs = (test.get("test_metadata") or {}).get("kwargs") or {}
    columns = kwargs.get("columns") or ([test["column_name"]] if test.get("column_name") else [])
    return [column.strip('"') for column in columns]


def _names_rows(columns: Sequence[str]) -> bool:
    return any(VENDOR_ID.match(column) for column in columns)


def _model_vendor(model: Mapping[str, Any] | None) -> str:
    return (model_vendor(model["name"]) if model else None) or "?"


def _columns(con: Any, relation: str) -> list[str]:
    return [column[0] for column in con.execute(f"select * from {relation} limit 0").description]


def _exists(con: Any, schema: str, name: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()[0])


def _relation(schema: str, name: str) -> str:
    return f"{_quoted(schema)}.{_quoted(name)}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
