"""`turnout`: run the daily load, serve the vendor sandboxes, run the whole demo, or serve the dashboard."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import os
import re
import shutil
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import dlt
import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from assets.definitions import DAILY_JOB
from assets.locks import DEFAULT_LOCK_TIMEOUT_SECONDS, LOCK_TIMEOUT_ENV, lock_timeout
from assets.runlog import run_log
from assets.runner import CROSS_VENDOR, LoadOutcome, loaded_datasets, run_daily_load, run_instance
from assets.settings import (
    DASHBOARD_HOST,
    DASHBOARD_PORT,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DEFAULT_SCHEDULE,
    DEFAULT_WAREHOUSE,
    DLT_POSTGRES_ENV,
    DUCKDB_MEMORY_LIMIT_ENV,
    FRESHNESS_HOURS_ENV,
    HASH_PERSONAL_DATA_ENV,
    LOCAL_DIR_ENV,
    SCHEDULE_ENV,
    WAREHOUSE_ENV,
    dagster_home,
    duckdb_memory_limit,
    freshness_hours,
    names_a_server,
    pipelines_dir,
    schedule_cron,
    warehouse_setting,
)
from assets.warehouse import DUCKDB, POSTGRES, Warehouse, WarehouseBusy, WarehouseUnreachable
from pipelines import settings as source_settings
from pipelines.registry import VENDORS
from pipelines.vendor import Vendor

if TYPE_CHECKING:
    from sandboxes.server import SandboxServer

DEMO_WAREHOUSE = Path("warehouse") / "demo.duckdb"
SCALES = ("small", "medium", "large")
EXIT_FAILED = 1  # a vendor's load, the dbt build or a check failed
EXIT_WRONG = 2  # a setting or an argument is wrong (argparse exits so too): nothing was requested
EXIT_BUSY = 3  # another process kept the warehouse past $TURNOUT_LOCK_TIMEOUT
AS_OF_EXAMPLE = "2026-11-20"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HIGHEST_PORT = 65535
# The spellings settings.hash_personal_data takes as on; anything else reads as off, so a typo
# would quietly leave personal data in the clear.
SWITCH_ON = ("1", "true", "yes", "on")
SWITCH_OFF = ("", "0", "false", "no", "off")
HELP_WIDTH = 100


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.command(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="turnout", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="the daily load against the configured vendors",
                              epilog=_run_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--warehouse", help=f"DuckDB file or postgresql:// URL (default ${WAREHOUSE_ENV} or "
                                         f"{DEFAULT_WAREHOUSE})")
    run.add_argument("--as-of", type=_business_date,
                     help="business date to load for, YYYY-MM-DD (default today, UTC)")
    run.set_defaults(command=run_command)

    sandbox = commands.add_parser("sandbox", help="serve the vendor sandboxes until interrupted")
    _sandbox_options(sandbox)
    sandbox.add_argument("--port", type=_port, default=0, help="first port (default: free ports)")
    sandbox.add_argument("--latency-ms", type=_at_least_zero(float, "a number of milliseconds, 0 or more"),
                         default=0.0, help="simulated time each vendor takes to answer a request (default 0)")
    sandbox.set_defaults(command=sandbox_command)

    demo = commands.add_parser("demo", help="load N simulated days from the sandboxes")
    demo.add_argument("--days", type=_at_least_zero(int, "a whole number of days, 0 or more"), default=2,
                      help="simulated days after day 0 (default 2)")
    demo.add_argument("--warehouse", help=f"DuckDB file to create, or an empty PostgreSQL database's URL "
                                          f"(default ${WAREHOUSE_ENV} if a URL, else {DEMO_WAREHOUSE})")
    _sandbox_options(demo)
    demo.set_defaults(command=demo_command)

    board = commands.add_parser("dashboard", help="serve a web page on the warehouse's reporting tables")
    board.add_argument("--warehouse", help=f"DuckDB file or postgresql:// URL (default ${WAREHOUSE_ENV} or "
                                           f"{DEFAULT_WAREHOUSE})")
    board.add_argument("--port", type=_port, default=DASHBOARD_PORT,
                       help=f"port on {DASHBOARD_HOST} (default {DASHBOARD_PORT}; 0: a free port)")
    board.set_defaults(command=dashboard_command)
    return parser


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    parser.add_argument("--scale", choices=SCALES, default="small", help="data size (default small)")


def _run_epilog() -> str:
    return f"""\
settings it reads, all checked before anything is requested:
  SOURCES__<VENDOR>__<KEY>     a vendor's settings, also [sources.<vendor>] <key> in .dlt/config.toml
                               or .dlt/secrets.toml of the working directory (the environment wins,
                               then secrets.toml). A vendor with none of its required settings is
                               skipped. Its keys (* a secret: .dlt/secrets.toml or the environment):
{_vendor_keys()}
  {WAREHOUSE_ENV:<27}  the warehouse without --warehouse: a DuckDB file (default {DEFAULT_WAREHOUSE})
  {"":<27}  or postgresql://user:password@host:port/database (also read from
  {"":<27}  {DLT_POSTGRES_ENV}, dlt's own setting)
  {LOCAL_DIR_ENV:<27}  where Turnout keeps its own files for a PostgreSQL warehouse (run lock,
  {"":<27}  dlt's folder, run history, logs; default warehouse/)
  {LOCK_TIMEOUT_ENV:<27}  seconds to wait for a busy warehouse (default {DEFAULT_LOCK_TIMEOUT_SECONDS:.0f}; 0: do not wait)
  {DUCKDB_MEMORY_LIMIT_ENV:<27}  DuckDB's memory in a run, such as 2GB (default {DEFAULT_DUCKDB_MEMORY_LIMIT})
  {HASH_PERSONAL_DATA_ENV:<27}  true: emails and names in the marts become hashes (default false)
  {FRESHNESS_HOURS_ENV:<27}  hours a vendor's last load may be old before its check fails
  {"":<27}  (default: loaded today, UTC)
  {SCHEDULE_ENV:<27}  the daily schedule's cron expression (default "{DEFAULT_SCHEDULE}")
  {"DAGSTER_HOME":<27}  where runs are recorded (default .dagster/ beside the warehouse)

exit codes:
  0  every configured vendor loaded and every check passed
  {EXIT_FAILED}  a vendor failed (a setting missing or not a URL, its host unreachable, its load),
     the dbt build or a check failed, or no vendor is configured; the other vendors still load
  {EXIT_WRONG}  a setting or an argument is wrong, named in one line; nothing was requested
  {EXIT_BUSY}  the warehouse stayed busy past {LOCK_TIMEOUT_ENV}; nothing was written
"""


def _vendor_keys() -> str:
    """One wrapped line per vendor: its name and the keys its source takes."""
    indent = " " * 4
    lines = []
    for vendor in VENDORS:
        keys = [f"{setting.name}*" if setting.secret else setting.name
                for setting in source_settings.vendor_settings(vendor) if setting.name != "as_of"]
        lines.append(textwrap.fill(", ".join(keys), HELP_WIDTH, initial_indent=f"{indent}{vendor.name:<15}",
                                   subsequent_indent=indent + " " * 15))
    return "\n".join(lines)


def _business_date(text: str) -> str:
    """--as-of: a real calendar date, YYYY-MM-DD."""
    try:
        if ISO_DATE.fullmatch(text.strip()):
            return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text}: expected a date YYYY-MM-DD, such as {AS_OF_EXAMPLE}")


def _at_least_zero(kind: type[int] | type[float], expected: str) -> Callable[[str], float]:
    """An argument type: a finite number of `kind`, 0 or more."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):  # nan fails both
            raise argparse.ArgumentTypeError(f"{text}: expected {expected}")
        return value

    return parse


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= HIGHEST_PORT:
        raise argparse.ArgumentTypeError(f"{text}: expected a port number from 0 to {HIGHEST_PORT}")
    return port


def run_command(args: argparse.Namespace) -> int:
    # Bound to this stdout now: the run log takes sys.stdout over while loading, and a
    # wait for the warehouse must still be told here.
    console = Console(file=sys.stdout)
    warehouse = Warehouse.from_env(args.warehouse)
    if not _settings_usable(console, _turnout_setting_problems(warehouse)):
        return EXIT_WRONG
    say = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    try:
        with console.status(f"Loading into {warehouse} …"), run_log(warehouse.location) as log_file:
            outcome = run_daily_load(warehouse, as_of=args.as_of, on_wait=say)
    except (WarehouseBusy, WarehouseUnreachable) as busy:
        console.print(str(busy), style="red", markup=False, soft_wrap=True)
        return EXIT_BUSY
    print_outcome(console, outcome)
    console.print(f"run log: {log_file}")
    return 0 if outcome.ok else EXIT_FAILED


def _turnout_setting_problems(warehouse: Warehouse) -> list[str]:
    """One line per setting of `turnout run` that is malformed, vendors' aside."""
    problems = []
    checks = (freshness_hours, lock_timeout, duckdb_memory_limit, _hash_personal_data, _schedule,
              functools.partial(_places, warehouse))
    for check in checks:
        try:
            check()
        except ValueError as problem:
            problems.append(str(problem))
    return problems


def _places(warehouse: Warehouse) -> None:
    if warehouse.engine == DUCKDB and warehouse.location.is_dir():
        raise ValueError(f"{warehouse} is a folder: expected the DuckDB file (--warehouse or {WAREHOUSE_ENV})")
    home = dagster_home(warehouse.location)
    if home.exists() and not home.is_dir():
        raise ValueError(f"DAGSTER_HOME is a file ({home}): expected a folder for the run history")


def _hash_personal_data() -> None:
    text = os.environ.get(HASH_PERSONAL_DATA_ENV, "")
    if text.strip().lower() not in SWITCH_ON + SWITCH_OFF:
        raise ValueError(f"{HASH_PERSONAL_DATA_ENV} must be true or false (1/0, yes/no, on/off), not {text!r}")


def _schedule() -> None:
    cron = schedule_cron()
    try:
        dg.ScheduleDefinition(name="schedule_check", cron_schedule=cron, job_name=DAILY_JOB)
    except dg.DagsterInvalidDefinitionError:
        raise ValueError(f"{SCHEDULE_ENV} must be a cron expression of 5 fields, such as "
                         f"{DEFAULT_SCHEDULE!r}, not {cron!r}") from None


def _settings_usable(console: Console, problems: Sequence[str] = ()) -> bool:
    """Checks every vendor's settings (and prints `problems` found before): a warning line per key
    no vendor takes, one line per setting that is wrong. Whether none is."""
    say = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    for warning in source_settings.unknown_settings(VENDORS):
        say(f"WARNING: {warning}", style="yellow")
    problems = [*problems, *source_settings.problems(VENDORS)]
    for problem in problems:
        say(problem, style="red")
    return not problems


def sandbox_command(args: argparse.Namespace) -> int:
    from sandboxes.server import FULL

    console = Console()
    profile = _sandbox_profile(console)
    if profile is None or not _sandbox_settings_usable(console):
        return EXIT_WRONG
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        servers = _start_sandboxes(stack, args.seed, args.scale, args.port, latency=args.latency_ms / 1000,
                                   profile=profile)
        # A credential the user configured is not echoed: it may be a real one from .dlt/secrets.toml.
        configured = {vendor.env_name(name) for vendor in VENDORS for name in _configured_credentials(vendor)}
        for server in servers:
            for name, value in server.app.settings(server.base_url).items():
                print(f"# {name}: as configured" if name in configured else f"export {name}={value}")
        shown = f" (profile {profile})" if profile != FULL else ""
        print(f"# {len(servers)} sandbox(es) serving{shown}; advance a day with "
              f"curl -X POST '<base url>/_sandbox/advance?days=1'. Ctrl-C stops.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def demo_command(args: argparse.Namespace) -> int:
    console = Console(file=sys.stdout)
    say = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    # Read before the old demo warehouse is removed: a mistyped setting costs nothing.
    profile = _sandbox_profile(console)
    if profile is None or not _sandbox_settings_usable(console) or not _settings_usable(console):
        return EXIT_WRONG
    outcomes: list[LoadOutcome] = []
    with ExitStack() as stack:
        try:
            # Held from before an old demo warehouse is removed until the last day is loaded.
            chosen = _demo_warehouse(args.warehouse)
            stack.enter_context(chosen.exclusive(say=say, holder="turnout demo"))
        except WarehouseBusy as busy:
            console.print(str(busy), style="red", markup=False, soft_wrap=True)
            return EXIT_BUSY
        except ValueError as problem:  # a malformed $TURNOUT_LOCK_TIMEOUT
            console.print(str(problem), style="red", markup=False, soft_wrap=True)
            return EXIT_WRONG
        warehouse = _fresh_demo_warehouse(console, chosen, requested=bool(args.warehouse))
        if warehouse is None:
            return EXIT_WRONG
        # Entered, so that loading definitions sees this instance as the current one.
        instance = stack.enter_context(run_instance(warehouse.location))
        servers = _start_sandboxes(stack, args.seed, args.scale, port=0, profile=profile)
        for server in servers:
            os.environ.update(server.app.settings(server.base_url))
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("", total=args.days + 1)
            for day in range(args.days + 1):
                if day:
                    progress.update(task, description=f"day {day}: advancing the sandboxes")
                    _advance(servers)
                as_of = servers[0].app.today.isoformat()
                progress.update(task, description=f"day {day} ({as_of}): loading and modelling")
                with run_log(warehouse.location) as log_file:
                    outcome = run_daily_load(warehouse, as_of=as_of, instance=instance)
                outcomes.append(outcome)
                progress.advance(task)
                if not outcome.ok:
                    break
    print_outcome(console, outcomes[-1])
    console.print(f"run log: {log_file}")
    _print_how_to_open(console, warehouse)
    return 0 if all(o.ok for o in outcomes) else EXIT_FAILED


def dashboard_command(args: argparse.Namespace) -> int:
    # Plotly loads only for the dashboard: every daily run would pay for it.
    from assets import dashboard

    console = Console()
    warehouse = Warehouse.from_env(args.warehouse)
    problem = dashboard.unusable(warehouse)
    if problem:
        console.print(problem, style="red", markup=False, soft_wrap=True)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server = dashboard.serve(warehouse, args.port)
    except OSError as exc:
        console.print(f"cannot serve on {DASHBOARD_HOST}:{args.port} ({exc.strerror or exc}); "
                      "choose another --port", style="red", markup=False, soft_wrap=True)
        return 2
    with server:
        console.print(f"Dashboard on {warehouse}: {server.url}  (Ctrl-C stops)", markup=False, soft_wrap=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def _sandbox_settings_usable(console: Console) -> bool:
    """The TURNOUT_SANDBOX_* fault settings and the settings files the sandboxes read credentials
    from, checked before any sandbox starts; each problem printed as one line."""
    from sandboxes.faults import FaultPlan

    problems = source_settings.file_problems()
    try:
        FaultPlan.from_env(os.environ)
    except ValueError as problem:
        problems.append(str(problem))
    for problem in problems:
        console.print(problem, style="red", markup=False, highlight=False, soft_wrap=True)
    return not problems


def _sandbox_profile(console: Console) -> str | None:
    """The sandboxes' profile from $TURNOUT_SANDBOX_PROFILE; None (and said why) when it is not one."""
    from sandboxes.server import profile_from_env

    try:
        return profile_from_env(os.environ)
    except ValueError as problem:
        console.print(str(problem), style="red", markup=False, soft_wrap=True)
        return None


def _start_sandboxes(stack: ExitStack, seed: int, scale: str, port: int,
                     latency: float = 0.0, profile: str | None = None) -> list[SandboxServer]:
    from sandboxes.faults import FaultPlan
    from sandboxes.registry import sandbox_for
    from sandboxes.server import FULL, SandboxServer

    faults = FaultPlan.from_env(os.environ)
    servers = []
    for offset, vendor in enumerate(VENDORS):
        app = sandbox_for(vendor.name)(seed=seed, scale=scale, profile=profile or FULL, **_configured_credentials(vendor))
        server = SandboxServer(app, port=port + offset if port else 0, latency=latency, faults=faults)
        servers.append(stack.enter_context(server))
    return servers


def _configured_credentials(vendor: Vendor) -> dict[str, str]:
    """The vendor's credentials already in dlt secrets or the environment, by setting name.

    Its sandbox serves with these, so a user or a test chooses the secrets; one not set
    is drawn at random by the sandbox, per process.
    """
    credentials = {}
    for setting in vendor.secret_settings:
        # Read as a secret: dlt keeps secrets out of its run traces.
        value = dlt.secrets.get(f"sources.{vendor.name}.{setting}")
        if value is not None and str(value):
            credentials[setting] = str(value)
    return credentials


def _advance(servers: Sequence[SandboxServer]) -> None:
    for server in servers:
        httpx.post(f"{server.base_url}/_sandbox/advance", params={"days": 1}).raise_for_status()


def _demo_warehouse(requested: str | None) -> Warehouse:
    """The demo's warehouse: --warehouse, else a PostgreSQL database the settings name, else
    its own DuckDB file (never the daily run's file)."""
    setting = warehouse_setting(requested)
    if requested or names_a_server(setting):
        return Warehouse.from_env(setting)
    return Warehouse.from_env(DEMO_WAREHOUSE)


def _fresh_demo_warehouse(console: Console, warehouse: Warehouse, requested: bool) -> Warehouse | None:
    if warehouse.engine == POSTGRES:
        # A database is never dropped on the demo's behalf: it may hold more than Turnout's tables.
        if loaded_datasets(warehouse):
            console.print(f"[red]{escape(str(warehouse))} already holds Turnout's raw tables; the demo builds a "
                          "new warehouse. Point it at an empty database.[/red]")
            return None
        shutil.rmtree(pipelines_dir(warehouse.location), ignore_errors=True)
        return warehouse
    path = warehouse.location
    if path.exists() and requested:
        console.print(f"[red]{path} exists; the demo builds a new warehouse. "
                      "Remove it or choose another --warehouse.[/red]")
        return None
    for leftover in (path, path.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(pipelines_dir(path), ignore_errors=True)
    return warehouse


def print_outcome(console: Console, outcome: LoadOutcome) -> None:
    for title, missing in outcome.skipped_vendors.items():
        console.print(f"[yellow]{title}: not configured, skipped (set {', '.join(missing)})[/yellow]")
    if outcome.mart_rows:
        vendors = sorted({v for counts in outcome.mart_rows.values() for v in counts} - {CROSS_VENDOR})
        table = Table(title=f"What landed (as of {outcome.as_of or 'today'})")
        table.add_column("mart")
        for vendor in vendors:
            table.add_column(vendor, justify="right")
        table.add_column("total", justify="right")
        for mart, counts in outcome.mart_rows.items():
            per_vendor = (f"{counts[v]:,}" if v in counts else "·" for v in vendors)
            table.add_row(mart, *per_vendor, f"{sum(counts.values()):,}")
        console.print(table)
    checks = f"checks: {outcome.checks_passed} passed, {len(outcome.checks_failed)} failed"
    console.print(checks if not outcome.checks_failed else f"[red]{checks}[/red]")
    for failed in outcome.checks_failed:
        console.print(f"[red]  failed check {escape(failed)}[/red]")
    for rejected in outcome.rejected:
        console.print(f"[red]  kept out of the marts: {escape(rejected)}[/red]", highlight=False, soft_wrap=True)
    for drift in outcome.schema_drift:
        console.print(f"[yellow]schema drift {escape(drift)}[/yellow]", highlight=False)
    for failure in outcome.failures:
        console.print(f"[red]failed: {escape(failure)}[/red]")
    console.print("[green]load succeeded[/green]" if outcome.ok else "[red]load failed[/red]")


def _print_how_to_open(console: Console, warehouse: Warehouse) -> None:
    # This environment's executables: it need not be activated or on PATH.
    python = Path(sys.executable)
    dagster = python.parent / "dagster"
    turnout = python.parent / "turnout"
    if warehouse.engine == POSTGRES:
        # Without the password: psql reads it from PGPASSWORD or ~/.pgpass.
        opening = (f"\nOpen the warehouse:\n  psql {warehouse} -c 'table marts.rpt_event_attendance'\n")
        setting = f"{WAREHOUSE_ENV}=<the same URL, with its password>"
    else:
        opening = ("\nOpen the warehouse (read-only, while nothing is loading):\n"
                   f"  {python} -c \"import duckdb; duckdb.connect('{warehouse}', read_only=True)"
                   ".sql('from marts.rpt_event_attendance').show()\"\n")
        setting = f"{WAREHOUSE_ENV}={warehouse}"
    console.print(
        opening
        + "Open the Dagster UI on these runs:\n"
        f"  DAGSTER_HOME={dagster_home(warehouse.location)} {setting} "
        f"{dagster} dev -w workspace.yaml\n"
        "Open the dashboard on it (reads the reporting tables, never blocks a load):\n"
        f"  {turnout} dashboard" + ("" if warehouse.engine == POSTGRES else f" --warehouse {warehouse}"),
        soft_wrap=True,
    )


if __name__ == "__main__":
    sys.exit(main())
