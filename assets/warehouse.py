"""The warehouse: where it is, how Turnout opens it, and who may write it when.

Every module that reads or writes the warehouse goes through `Warehouse`, a Dagster
resource configured from the environment (`TURNOUT_WAREHOUSE`, see assets.settings).
What depends on the engine lives here and nowhere else: the dlt destination, what dbt
is told about the target, how a connection is opened for reading or for writing, and
whether writers take turns.

The one-writer rule. A DuckDB file takes one writing process at a time, so everything
that writes it (a vendor's load, the dbt build, `turnout run` and `turnout demo` around
them) does so inside `Warehouse.exclusive()`: a run lock beside the file that one Turnout
process holds at a time, then a wait until DuckDB itself would let this process write
(an analyst's open connection holds the file too). A vendor's load keeps the file open
for writing while dlt runs (`Warehouse.held_open()`), so nobody slips in before dlt's
load. In Dagster the writing steps also share the `turnout_warehouse` pool of one slot,
so a run's steps queue rather than wait on the file. How the waiting is done is
assets.locks; a server engine would take writers at once and keep only the pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
import duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from assets import locks
from assets.locks import Say, WarehouseBusy
from assets.settings import duckdb_memory_limit, pipelines_dir, warehouse_path

__all__ = ["Warehouse", "WarehouseBusy"]


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file every step reads and writes."""

    path: str

    @classmethod
    def from_env(cls, explicit: str | Path | None = None) -> Warehouse:
        """The warehouse named explicitly, else by $TURNOUT_WAREHOUSE, else the default file."""
        return cls(path=str(warehouse_path(explicit)))

    @classmethod
    def of(cls, warehouse: Warehouse | str | Path | None) -> Warehouse:
        """`warehouse` as a Warehouse: itself, else the file a path names (see from_env)."""
        return warehouse if isinstance(warehouse, Warehouse) else cls.from_env(warehouse)

    @property
    def location(self) -> Path:
        return Path(self.path)

    def __str__(self) -> str:
        return self.path

    def exists(self) -> bool:
        return self.location.exists()

    # --- reading -----------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, closed when the block ends; it never blocks a later writer
        for longer than the block. WarehouseBusy when a writer holds the file now."""
        try:
            connection = duckdb.connect(self.path, read_only=True)
        except duckdb.IOException as refused:
            holder = locks.lock_holder_in(str(refused))
            if holder is None:
                raise
            raise WarehouseBusy(f"{self.path} is being written ({holder}); try again once the load is done") from None
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def within_a_write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection for a step that already holds the warehouse (see exclusive):
        dlt may keep a read-write connection open in this process, which a read-only one
        would conflict with."""
        connection = duckdb.connect(self.path)
        try:
            yield connection
        finally:
            connection.close()

    # --- writing: the one-writer rule --------------------------------------------

    def exclusive(self, say: Say, holder: str = "a Turnout load",
                  timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Held by everything that writes: the run lock, then DuckDB's own, waited for up to
        $TURNOUT_LOCK_TIMEOUT. `say` hears when a wait starts and ends; `holder` names this
        process to whoever waits for it. Raises WarehouseBusy when the wait would be longer."""
        return locks.exclusive_warehouse(self.location, say=say, holder=holder, timeout=timeout)

    def held_open(self, say: Say, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Keeps the file open for writing until the block ends, so no other process can open
        it in between (inside `exclusive`)."""
        return locks.kept_open(self.location, say=say, timeout=timeout)

    @staticmethod
    def holder_named_in(message: str) -> str | None:
        """The other process the engine names in an error that refused this one the file
        (deep in dlt's or dbt's error); None when the error is about something else."""
        return locks.lock_holder_in(message)

    # --- what the engines are told -----------------------------------------------

    def dlt_destination(self) -> Any:
        """dlt's destination for this warehouse."""
        return dlt.destinations.duckdb(
            DuckDbCredentials(self.path, global_config={"memory_limit": duckdb_memory_limit()}))

    def dlt_working_dir(self) -> Path:
        """dlt's working folder for loads into this warehouse, kept beside it."""
        return pipelines_dir(self.location)

    def dbt_target(self) -> dict[str, Any]:
        """The vars dbt's profile reads to reach this warehouse."""
        return {"warehouse_path": self.path, "duckdb_memory_limit": duckdb_memory_limit()}
