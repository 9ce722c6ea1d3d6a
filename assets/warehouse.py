"""The warehouse: where it is, how Turnout opens it, and who may write it when.

Every module that reads or writes the warehouse goes through `Warehouse`, a Dagster
resource configured from the environment (`TURNOUT_WAREHOUSE`, see assets.settings).
It is a DuckDB file by default, or a PostgreSQL database when the setting is a
postgresql:// URL. What depends on the engine lives here and nowhere else: the dlt
destination, what dbt is told about the target, how a connection is opened for reading
or for writing, and whether writers take turns.

A PostgreSQL warehouse keeps its password out of everything Turnout writes: the resource
holds the URL without it (Dagster stores resource config with each run), and the password
is read from the setting again when a connection is made; dbt gets it in an environment
variable that dbt itself scrubs from its logs and artifacts (DBT_ENV_SECRET_...).

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
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import dagster as dg
import dlt
import duckdb
import pandas as pd
import psycopg2
import psycopg2.errors
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from assets import locks
from assets.locks import Say, WarehouseBusy
from assets.settings import (
    duckdb_memory_limit,
    local_folder,
    names_a_server,
    pipelines_dir,
    warehouse_setting,
)

__all__ = ["NOT_FOUND", "Warehouse", "WarehouseBusy"]

DUCKDB, POSTGRES = "duckdb", "postgres"  # the engines, named as dbt's targets are
POSTGRES_PORT = 5432
DBT_PASSWORD_ENV = "DBT_ENV_SECRET_TURNOUT_POSTGRES_PASSWORD"  # read by profiles.yml
# Every session judges dates in UTC, as DuckDB's do (profiles.yml sets its TimeZone): libpq
# reads these options from PGOPTIONS, the only way to hand them to dbt-postgres.
PGOPTIONS_ENV = "PGOPTIONS"
SESSION_OPTIONS = "-c TimeZone=UTC"
# Passwords of the server warehouses this process was given, by URL without the password:
# Dagster rebuilds a resource from its config, which leaves the password out.
_passwords: dict[str, str] = {}
# PostgreSQL's number types, by oid: smallint, integer, bigint; real, double precision, numeric.
INTEGER_OIDS = frozenset({21, 23, 20})
FRACTION_OIDS = frozenset({700, 701, 1700})
DATE_OID = 1082
# What reading a table or column that is not there raises, on either engine.
NOT_FOUND = (duckdb.CatalogException, duckdb.BinderException,
             psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn)


class Warehouse(dg.ConfigurableResource):
    """The warehouse every step reads and writes: a DuckDB file, or a PostgreSQL database."""

    # DuckDB: the file. PostgreSQL: what Turnout's own files for it are named after, in
    # assets.settings.local_folder().
    path: str
    # PostgreSQL: the database's URL without its password; empty for DuckDB.
    server: str = ""

    @classmethod
    def from_env(cls, explicit: str | Path | None = None) -> Warehouse:
        """The warehouse named explicitly, else by $TURNOUT_WAREHOUSE (see assets.settings)."""
        setting = warehouse_setting(explicit)
        if names_a_server(setting):
            return cls.on_server(setting)
        return cls(path=str(Path(setting).expanduser().resolve()))

    @classmethod
    def on_server(cls, url: str) -> Warehouse:
        """The PostgreSQL database a postgresql:// URL names."""
        parts = urlsplit(url)
        database = parts.path.lstrip("/") or parts.username or "postgres"
        place = f"{database}@{parts.hostname or 'localhost'}-{parts.port or POSTGRES_PORT}"
        warehouse = cls(path=str(local_folder() / f"{place}.postgres"), server=_without_password(url))
        if parts.password:
            _passwords[warehouse.server] = unquote(parts.password)
        return warehouse

    @classmethod
    def of(cls, warehouse: Warehouse | str | Path | None) -> Warehouse:
        """`warehouse` as a Warehouse: itself, else the one a path or URL names (see from_env)."""
        return warehouse if isinstance(warehouse, Warehouse) else cls.from_env(warehouse)

    @property
    def engine(self) -> str:
        return POSTGRES if self.server else DUCKDB

    @property
    def location(self) -> Path:
        """The DuckDB file; for PostgreSQL, the name Turnout's own files for it are kept under."""
        return Path(self.path)

    def __str__(self) -> str:
        return self.server or self.path

    def exists(self) -> bool:
        """Whether there is a warehouse to read (a server's database always is)."""
        return bool(self.server) or self.location.exists()

    # --- reading -----------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only connection, closed when the block ends; it never blocks a later writer
        for longer than the block. WarehouseBusy when a writer holds the DuckDB file now.
        Either engine's connection answers `execute(sql, params)` with fetchall, fetchone and df."""
        if self.server:
            with self._server_connection(read_only=True) as connection:
                yield connection
            return
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
    def within_a_write(self) -> Iterator[Any]:
        """A read-write connection for a step that already holds the warehouse (see exclusive):
        dlt may keep a read-write connection open in this process, which a read-only one
        would conflict with."""
        if self.server:
            with self._server_connection(read_only=False) as connection:
                yield connection
            return
        connection = duckdb.connect(self.path)
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _server_connection(self, read_only: bool) -> Iterator[ServerConnection]:
        try:
            connection = psycopg2.connect(self.server, password=self._secret(), options=SESSION_OPTIONS)
        except psycopg2.OperationalError as refused:
            # libpq's message names host, port and user, never the password.
            raise WarehouseUnreachable(f"PostgreSQL warehouse {self.server}: {str(refused).strip()}") from None
        connection.set_session(readonly=read_only, autocommit=True)
        try:
            yield ServerConnection(connection)
        finally:
            connection.close()

    # --- writing: the one-writer rule --------------------------------------------

    def exclusive(self, say: Say, holder: str = "a Turnout load",
                  timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Held by everything that writes: the run lock, then (DuckDB) the file's own lock, waited
        for up to $TURNOUT_LOCK_TIMEOUT. `say` hears when a wait starts and ends; `holder` names
        this process to whoever waits for it. Raises WarehouseBusy when the wait would be longer."""
        return locks.exclusive_warehouse(self.location, say=say, holder=holder, timeout=timeout,
                                         file_lock=self.engine == DUCKDB)

    def held_open(self, say: Say, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Keeps a DuckDB file open for writing until the block ends, so no other process can
        open it in between (inside `exclusive`). A server takes every writer: nothing to hold."""
        if self.server:
            return contextlib.nullcontext()
        return locks.kept_open(self.location, say=say, timeout=timeout)

    @staticmethod
    def holder_named_in(message: str) -> str | None:
        """The other process the engine names in an error that refused this one the file
        (deep in dlt's or dbt's error); None when the error is about something else."""
        return locks.lock_holder_in(message)

    # --- what the engines are told -----------------------------------------------

    def dlt_destination(self) -> Any:
        """dlt's destination for this warehouse."""
        if self.server:
            return dlt.destinations.postgres(credentials=self._url_with_password())
        return dlt.destinations.duckdb(
            DuckDbCredentials(self.path, global_config={"memory_limit": duckdb_memory_limit()}))

    def loader_file_format(self) -> str:
        """The file format dlt loads in: Parquet into DuckDB (10-50x faster than dlt's default,
        insert_values), CSV into PostgreSQL (loaded with COPY; PostgreSQL takes no Parquet)."""
        return "csv" if self.server else "parquet"

    def dlt_working_dir(self) -> Path:
        """dlt's working folder for loads into this warehouse, kept beside it."""
        return pipelines_dir(self.location)

    def dbt_target(self) -> dict[str, Any]:
        """The vars dbt's profile reads to reach this warehouse (never its password)."""
        if self.server:
            parts = urlsplit(self.server)
            return {"postgres_host": parts.hostname or "localhost", "postgres_port": parts.port or POSTGRES_PORT,
                    "postgres_user": unquote(parts.username or ""),
                    "postgres_database": parts.path.lstrip("/") or "postgres"}
        return {"warehouse_path": self.path, "duckdb_memory_limit": duckdb_memory_limit()}

    def dbt_arguments(self) -> list[str]:
        """dbt's --target for this engine: profiles.yml has one output per engine."""
        return ["--target", self.engine]

    @contextlib.contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """The environment a dbt process started within the block reads its password and
        session settings from."""
        if not self.server:
            yield
            return
        given = {DBT_PASSWORD_ENV: self._secret() or "", PGOPTIONS_ENV: SESSION_OPTIONS}
        before = {name: os.environ.get(name) for name in given}
        os.environ.update(given)
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # --- the password --------------------------------------------------------------

    def _secret(self) -> str | None:
        """The password: as given to this process, else from the setting, read again (a step in a
        process of its own gets this resource without it), else None for libpq to find (PGPASSWORD, ~/.pgpass)."""
        if self.server in _passwords:
            return _passwords[self.server]
        setting = warehouse_setting()
        if names_a_server(setting) and _without_password(setting) == self.server:
            password = urlsplit(setting).password
            return unquote(password) if password else None
        return None

    def _url_with_password(self) -> str:
        secret = self._secret()
        if secret is None:
            return self.server
        parts = urlsplit(self.server)
        user = parts.username or ""
        netloc = f"{user}:{quote(secret, safe='')}@{parts.netloc.rpartition('@')[2]}"
        return urlunsplit(parts._replace(netloc=netloc))


class WarehouseUnreachable(RuntimeError):
    """A PostgreSQL warehouse refused or did not answer a connection."""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}" if parts.username else host))


class ServerConnection:
    """A PostgreSQL connection used as Turnout uses DuckDB's: `execute(sql, params)` and then
    fetchall, fetchone, df or description. Parameters are written `?`, as for DuckDB."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> ServerResult:
        cursor = self._connection.cursor()
        if params:
            # psycopg2 writes parameters %s and reads any other % as the start of one.
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), list(params))
        else:
            cursor.execute(sql)
        return ServerResult(cursor)


class ServerResult:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone()

    def df(self) -> pd.DataFrame:
        """The rows as DuckDB's df() gives them: whole numbers as int64 (pandas' nullable Int64
        where some are NULL), other numbers as floats (not Decimal objects), dates as datetimes."""
        columns = [column[0] for column in self._cursor.description]
        frame = pd.DataFrame(self._cursor.fetchall(), columns=columns)
        for column, (_, type_code, *_rest) in zip(columns, self._cursor.description, strict=True):
            if type_code in INTEGER_OIDS:
                frame[column] = frame[column].astype("Int64" if frame[column].isna().any() else "int64")
            elif type_code in FRACTION_OIDS:
                frame[column] = pd.to_numeric(frame[column]).astype("float64")
            elif type_code == DATE_OID:
                frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
        return frame
