"""DuckDB's memory limit in a run: a setting of its own, applied to dlt's loads."""

import pytest

from assets.cli import main
from assets.ingest import vendor_pipeline
from assets.settings import duckdb_memory_limit
from assets.warehouse import Warehouse
from pipelines.registry import VENDORS


@pytest.mark.parametrize("value", ["lots", "400", "-1GB", "1 GB of RAM"])
def test_a_bad_memory_limit_is_refused_naming_the_setting(value, monkeypatch, warehouse, capsys):
    monkeypatch.setenv("TURNOUT_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="TURNOUT_DUCKDB_MEMORY_LIMIT must be a size"):
        duckdb_memory_limit()
    assert main(["run", "--warehouse", str(warehouse)]) == 2
    assert "TURNOUT_DUCKDB_MEMORY_LIMIT" in capsys.readouterr().out
    assert not warehouse.exists()


@pytest.mark.parametrize(("value", "shown"), [(None, "286.1 MiB"), ("2GB", "1.8 GiB"), ("256MiB", "256.0 MiB")])
def test_the_loads_run_under_the_memory_limit(value, shown, monkeypatch, tmp_path):
    if value is None:
        monkeypatch.delenv("TURNOUT_DUCKDB_MEMORY_LIMIT", raising=False)
    else:
        monkeypatch.setenv("TURNOUT_DUCKDB_MEMORY_LIMIT", value)
    pipeline = vendor_pipeline(VENDORS[0], Warehouse.of(tmp_path / "turnout.duckdb"))
    with pipeline.sql_client() as client:
        (setting,) = client.execute_sql("select current_setting('memory_limit')")[0]
    assert setting == shown
