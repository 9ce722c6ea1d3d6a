"""Schema drift found in a real warehouse, a DuckDB file and a PostgreSQL database: new,
retyped and vanished fields."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import psycopg2
import pytest

from assets.drift import MIN_ROWS_FOR_GONE, Drift, dataset_columns, gone_columns, load_ids, new_columns
from assets.warehouse import Warehouse


@pytest.fixture(params=["duckdb", "postgres"])
def where(request, tmp_path):
    """The warehouse: a DuckDB file, or a PostgreSQL database's URL."""
    if request.param == "duckdb":
        return tmp_path / "w.duckdb"
    return request.getfixturevalue("postgres_url")


@contextmanager
def writing(where) -> Iterator:
    if isinstance(where, str):
        connection = psycopg2.connect(where)
        connection.autocommit = True
        try:
            yield connection.cursor()
        finally:
            connection.close()
    else:
        with duckdb.connect(str(where)) as con:
            yield con


def _warehouse(where):
    with writing(where) as con:
        con.execute("create schema raw_opus")
        con.execute("create table raw_opus._dlt_loads (load_id varchar, status int)")
        con.execute("insert into raw_opus._dlt_loads values ('1', 0)")
        con.execute("create table raw_opus.events (id varchar, capacity bigint, venue varchar, "
                    "_dlt_load_id varchar, _dlt_id varchar)")
        con.execute("insert into raw_opus.events select cast(i as varchar), 10, 'Hall', '1', cast(i as varchar) "
                    "from generate_series(0, 19) as t(i)")
    return where


def test_new_and_retyped_fields_of_existing_tables_are_drift_new_tables_are_not(where):
    path = _warehouse(where)
    before = dataset_columns(Warehouse.of(path), "raw_opus")
    assert before == {"events": {"id", "capacity", "venue", "_dlt_load_id", "_dlt_id"}}
    with writing(path) as con:
        con.execute("alter table raw_opus.events add column promo_code varchar")
        con.execute("alter table raw_opus.events add column capacity__v_text varchar")
        con.execute("create table raw_opus.speakers (id varchar)")

    found = new_columns(before, dataset_columns(Warehouse.of(path), "raw_opus"))

    assert found == [Drift("events", "changed type", "capacity__v_text"), Drift("events", "new column", "promo_code")]
    assert [str(d) for d in found] == [
        "events.capacity: changed type, new values land in capacity__v_text",
        "events.promo_code: new field, new column"]


def test_a_field_missing_from_every_row_of_a_load_is_reported_gone(where):
    path = _warehouse(where)
    with writing(path) as con:
        con.execute("insert into raw_opus._dlt_loads values ('2', 0)")
        con.execute(f"insert into raw_opus.events select cast(100 + i as varchar), 10, null, '2', "
                    f"cast(i as varchar) from generate_series(1, {MIN_ROWS_FOR_GONE}) as t(i)")
    assert load_ids(Warehouse.of(path), "raw_opus") == {"1", "2"}
    columns = dataset_columns(Warehouse.of(path), "raw_opus")

    assert gone_columns(Warehouse.of(path), "raw_opus", columns, {"2"}) == [Drift("events", "no longer sent", "venue")]
    assert gone_columns(Warehouse.of(path), "raw_opus", columns, set()) == []


def test_a_small_load_without_an_optional_field_is_not_drift(where):
    path = _warehouse(where)
    with writing(path) as con:
        con.execute("insert into raw_opus.events values ('200', 10, null, '2', 'x')")
    assert gone_columns(Warehouse.of(path), "raw_opus", dataset_columns(Warehouse.of(path), "raw_opus"), {"2"}) == []


def test_a_text_field_that_starts_carrying_json_objects_is_a_type_change(where):
    path = _warehouse(where)
    with writing(path) as con:
        con.execute("""insert into raw_opus.events values ('300', 10, '{"name": "Hall", "floor": 2}', '2', 'y')""")
    found = gone_columns(Warehouse.of(path), "raw_opus", dataset_columns(Warehouse.of(path), "raw_opus"), {"2"})
    assert found == [Drift("events", "now JSON", "venue")]
    assert str(found[0]) == "events.venue: changed type, now JSON objects or lists (kept as JSON text)"
