"""Where Turnout keeps its files, resolved when asked, never at import."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_models"
WAREHOUSE_ENV = "TURNOUT_WAREHOUSE"
DEFAULT_WAREHOUSE = Path("warehouse") / "turnout.duckdb"
# A warehouse on PostgreSQL: TURNOUT_WAREHOUSE holds its URL, or dlt's own setting does.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DLT_POSTGRES_ENV = "DESTINATION__POSTGRES__CREDENTIALS"
LOCAL_DIR_ENV = "TURNOUT_LOCAL_DIR"
SCHEDULE_ENV = "TURNOUT_SCHEDULE"
DEFAULT_SCHEDULE = "0 5 * * *"  # daily, 05:00 UTC
DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_PORT = 8050

# Every asset that writes the warehouse shares this pool (limit 1): DuckDB has one writer.
WAREHOUSE_POOL = "turnout_warehouse"
WAREHOUSE_OP_TAG = "turnout/writes"
# The privacy switch: emails and names in the marts become stable hashes.
HASH_PERSONAL_DATA_ENV = "TURNOUT_HASH_PERSONAL_DATA"
# Freshness: how old a vendor's last load may be, in hours; unset: it must be from today (UTC).
FRESHNESS_HOURS_ENV = "TURNOUT_FRESHNESS_HOURS"
# DuckDB takes 80 % of RAM by default; a run's loads and dbt models spill to disk beyond this.
# Measured at scale large: dbt's process peaks at 1.5 GB unbounded, 0.63 GB with 400MB and
# 0.54 GB with 300MB (1 s slower); below that, spilling costs more (250MB: 6 s slower).
DUCKDB_MEMORY_LIMIT_ENV = "TURNOUT_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_LIMIT = "300MB"
DUCKDB_MEMORY_LIMIT_FORMAT = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
# The business date a run loads for; the schedule sets it, `turnout demo` simulates it.
AS_OF_TAG = "turnout/as_of"


def warehouse_setting(explicit: str | os.PathLike[str] | None = None) -> str:
    """Where the warehouse is: `explicit`, else $TURNOUT_WAREHOUSE, else dlt's own PostgreSQL
    setting ($DESTINATION__POSTGRES__CREDENTIALS), else warehouse/turnout.duckdb. A
    postgresql:// URL names a PostgreSQL database; anything else, a DuckDB file."""
    return str(explicit or os.environ.get(WAREHOUSE_ENV) or os.environ.get(DLT_POSTGRES_ENV) or DEFAULT_WAREHOUSE)


def local_folder() -> Path:
    """Where Turnout keeps its own files for a warehouse on a server (run lock, dlt's working
    folder, run history, run logs): $TURNOUT_LOCAL_DIR, else the folder the DuckDB file
    would be in."""
    return Path(os.environ.get(LOCAL_DIR_ENV) or DEFAULT_WAREHOUSE.parent).expanduser().resolve()


def names_a_server(setting: str | os.PathLike[str]) -> bool:
    """Whether a warehouse setting is a PostgreSQL URL rather than a DuckDB file."""
    return str(setting).lower().startswith(POSTGRES_SCHEMES)


def warehouse_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file: explicit path, else $TURNOUT_WAREHOUSE, else warehouse/turnout.duckdb."""
    chosen = explicit or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE
    return Path(chosen).expanduser().resolve()


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's working folder, kept beside the warehouse it loads."""
    return warehouse.parent / ".dlt_pipelines" / warehouse.stem


def dagster_home(warehouse: Path) -> Path:
    """Run history for the CLI, beside the warehouse; `dagster dev` can open it."""
    return Path(os.environ.get("DAGSTER_HOME") or warehouse.parent / ".dagster").resolve()


def hash_personal_data() -> bool:
    """Whether the marts show emails and names as hashes ($TURNOUT_HASH_PERSONAL_DATA, default off)."""
    return os.environ.get(HASH_PERSONAL_DATA_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def env_number(name: str, accept: Callable[[float], bool], expected: str) -> float | None:
    """A number from the environment, None when unset; ValueError naming the setting when not `accept`ed."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not accept(value):  # nan is never accepted
        raise ValueError(f"{name} must be {expected}, not {text!r}")
    return value


def freshness_hours() -> float | None:
    """The freshness threshold in hours ($TURNOUT_FRESHNESS_HOURS), None for "a load today (UTC)"."""
    return env_number(FRESHNESS_HOURS_ENV, lambda hours: hours > 0, "a positive number of hours")


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit in a run ($TURNOUT_DUCKDB_MEMORY_LIMIT, e.g. 2GB); ValueError naming the setting."""
    text = os.environ.get(DUCKDB_MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_DUCKDB_MEMORY_LIMIT
    if not DUCKDB_MEMORY_LIMIT_FORMAT.fullmatch(text):
        raise ValueError(f"{DUCKDB_MEMORY_LIMIT_ENV} must be a size such as 400MB or 2GB, not {text!r}")
    return text


def schedule_cron() -> str:
    return os.environ.get(SCHEDULE_ENV) or DEFAULT_SCHEDULE
