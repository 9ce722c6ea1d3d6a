"""Schema drift found in a real DuckDB file: new, retyped and vanished fields."""

from __future__ import annotations

import duckdb

from assets.drift import MIN_ROWS_FOR_GONE, Drift, dataset_columns, gone_columns, load_ids, new_columns
from assets.warehouse import Warehouse


def _warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw_opus")
        con.execute("create table raw_opus._dlt_loads (load_id varchar, status int)")
        con.execute("insert into raw_opus._dlt_loads values ('1', 0)")
        con.execute("create table raw_opus.events (id varchar, capacity bigint, venue varchar, "
                    "_dlt_load_id varchar, _dlt_id varchar)")
        con.execute("insert into raw_opus.events select i, 10, 'Hall', '1', i from range(20) t(i)")
    return path


def test_new_and_retyped_fields_of_existing_tables_are_drift_new_tables_are_not(tmp_path):
    path = _warehouse(tmp_path)
    before = dataset_columns(Warehouse.of(path), "raw_opus")
    assert before == {"events": {"id", "capacity", "venue", "_dlt_load_id", "_dlt_id"}}
    with duckdb.connect(str(path)) as con:
        con.execute("alter table raw_opus.events add column promo_code varchar")
        con.execute("alter table raw_opus.events add column capacity__v_text varchar")
        con.execute("create table raw_opus.speakers (id varchar)")

    found = new_columns(before, dataset_columns(Warehouse.of(path), "raw_opus"))

    assert found == [Drift("events", "changed type", "capacity__v_text"), Drift("events", "new column", "promo_code")]
    assert [str(d) for d in found] == [
        "events.capacity: changed type, new values land in capacity__v_text",
        "events.promo_code: new field, new column"]


def test_a_field_missing_from_every_row_of_a_load_is_reported_gone(tmp_path):
    path = _warehouse(tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("insert into raw_opus._dlt_loads values ('2', 0)")
        con.execute(f"insert into raw_opus.events select 100 + i, 10, null, '2', i "
                    f"from range({MIN_ROWS_FOR_GONE}) t(i)")
    assert load_ids(Warehouse.of(path), "raw_opus") == {"1", "2"}
    columns = dataset_columns(Warehouse.of(path), "raw_opus")

    assert gone_columns(Warehouse.of(path), "raw_opus", columns, {"2"}) == [Drift("events", "no longer sent", "venue")]
    assert gone_columns(Warehouse.of(path), "raw_opus", columns, set()) == []


def test_a_small_load_without_an_optional_field_is_not_drift(tmp_path):
    path = _warehouse(tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("insert into raw_opus.events values ('200', 10, null, '2', 'x')")
    assert gone_columns(Warehouse.of(path), "raw_opus", dataset_columns(Warehouse.of(path), "raw_opus"), {"2"}) == []


def test_a_text_field_that_starts_carrying_json_objects_is_a_type_change(tmp_path):
    path = _warehouse(tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute("""insert into raw_opus.events values ('300', 10, '{"name": "Hall", "floor": 2}', '2', 'y')""")
    found = gone_columns(Warehouse.of(path), "raw_opus", dataset_columns(Warehouse.of(path), "raw_opus"), {"2"})
    assert found == [Drift("events", "now JSON", "venue")]
    assert str(found[0]) == "events.venue: changed type, now JSON objects or lists (kept as JSON text)"
