"""Turnout's benchmark: a full first load and a daily run against the obvious alternatives.

    python -m bench [--scales medium,large] [--latency-ms 50]

For each scale it serves the four vendor sandboxes in a process of their own, with a
simulated latency on every request, and measures in one run:

* Turnout's full first load of the four vendors (`turnout run`: extract, normalise, load, dbt);
* the naive baseline (bench.naive): the same extraction one request at a time, loaded with
  dlt's defaults, no dbt;
* the generic peer (bench.peer): dlt's `rest_api` source for OPUS DX and EventBookings, next
  to Turnout loading those two vendors alone;
* Turnout's daily run after the sandboxes move one day on;
* with --postgres-url (or $TURNOUT_BENCH_POSTGRES_URL, a server's URL with a user that may
  create databases): the same full load and daily run into a PostgreSQL database, and the
  daily run once more with Dagster's run storage in SQLite and in PostgreSQL, for the dbt
  step's time with each;
* the floor: the requests the full load made times the latency, over the concurrency each
  vendor is read with; no client reading the vendors one after another can beat it.

It prints one table per scale, in Markdown, and how the figures compare with the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from bench.measure import Measurement, Sandboxes, load_ids, rows_landed, run_process_tree, serve_sandboxes
from pipelines.registry import VENDORS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCALES = ("small", "medium", "large")
DEFAULT_SCALES = "medium,large"
# The baseline and the peer take minutes at medium and hours at large: measured where they finish.
BASELINE_SCALES = ("small", "medium")
DEFAULT_LATENCY_MS = 50.0
PEER_VENDORS = ("opus", "eventbookings")
POSTGRES_URL_ENV = "TURNOUT_BENCH_POSTGRES_URL"
# Dagster's storage on PostgreSQL, as README shows it (`On PostgreSQL`).
DAGSTER_POSTGRES_YAML = """\
storage:
  postgres:
    postgres_url:
      env: TURNOUT_DAGSTER_POSTGRES_URL
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""
MIB = 1024 * 1024


@dataclass
class RunParts:
    """Where a Turnout run's time went: its steps from Dagster's run history, extraction from dlt's traces."""

    vendor_steps: float | None  # extract, normalise and load of every vendor
    extraction: float | None  # dlt's extract step: every request, its parsing, the extracted files
    dbt: float | None  # dbt build with its tests


@dataclass
class ScaleReport:
    scale: str
    latency_ms: float
    full: Measurement | None = None
    full_parts: RunParts | None = None
    floor_seconds: float | None = None
    daily: Measurement | None = None
    daily_parts: RunParts | None = None
    naive: Measurement | None = None
    peer: Measurement | None = None
    turnout_pair: Measurement | None = None
    # Runs on another engine or Dagster storage, each with where its time went.
    more: list[tuple[Measurement, RunParts]] = field(default_factory=list)

    @property
    def rows(self) -> list[Measurement]:
        """The runs measured, in the order they ran."""
        runs = (self.full, self.naive, self.turnout_pair, self.peer, self.daily)
        return [run for run in runs if run is not None]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    unknown = [s for s in scales if s not in SCALES]
    if unknown or not scales:
        print(f"--scales: unknown or none given: {', '.join(unknown) or '(empty)'}; choose from {SCALES}",
              file=sys.stderr)
        return 2
    if args.latency_ms < 0:
        print("--latency-ms must not be negative", file=sys.stderr)
        return 2
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="turnout-bench-")).resolve()
    print(machine_line(), flush=True)
    print(f"command: python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip(), flush=True)
    prepare_dbt_manifest()
    reports = []
    failed = False
    for scale in scales:
        report = ScaleReport(scale, args.latency_ms)
        try:
            measure_scale(report, workdir / scale, seed=args.seed,
                          baselines=scale in BASELINE_SCALES and not args.turnout_only,
                          postgres=args.postgres_url)
        except ContenderFailed as failure:
            print(f"\n{failure}", file=sys.stderr, flush=True)
            failed = True
        reports.append(report)
        print(render(report), flush=True)
    print(render_targets(reports), flush=True)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=DEFAULT_SCALES, help=f"comma-separated (default {DEFAULT_SCALES})")
    parser.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY_MS,
                        help=f"simulated latency of every vendor request (default {DEFAULT_LATENCY_MS:g})")
    parser.add_argument("--seed", type=int, default=1, help="sandbox data seed (default 1)")
    parser.add_argument("--turnout-only", action="store_true", help="skip the naive baseline and the peer")
    parser.add_argument("--workdir", help="keep warehouses and logs here (default: a temporary folder)")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_URL_ENV),
                        help=f"a PostgreSQL server to measure on as well (default ${POSTGRES_URL_ENV}; "
                             "the environment keeps its password out of the process list)")
    return parser


class ContenderFailed(RuntimeError):
    pass


def prepare_dbt_manifest() -> None:
    """Parses the dbt project if it changed since its manifest was built, before anything is timed.

    A deployment builds the manifest once, not with every load; left to the first run, a
    project edited since its last parse would add a full parse to whichever run came first.
    """
    print("\npreparing dbt's manifest (once per deployment, not timed) …", flush=True)
    code = "from assets.transform import dbt_project, ensure_manifest; ensure_manifest(dbt_project())"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def measure_scale(report: ScaleReport, workdir: Path, seed: int, baselines: bool, postgres: str | None) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    # Where Turnout keeps its own files for a PostgreSQL warehouse, here and in the runs.
    os.environ["TURNOUT_LOCAL_DIR"] = str(workdir / "postgres")
    vendors = [v.name for v in VENDORS]
    on_server = postgres and create_database(postgres, f"turnout_bench_{report.scale}_{os.getpid()}")
    print(f"\n[{report.scale}] starting the sandboxes …", flush=True)
    with serve_sandboxes(report.scale, report.latency_ms, seed, PROJECT_ROOT) as sandboxes:
        warehouse = workdir / "turnout" / "turnout.duckdb"
        # Turnout goes first: whatever the sandboxes warm up on their first reads, it pays.
        report.full, per_vendor = turnout_run(sandboxes, warehouse, "Turnout: full first load, 4 vendors",
                                              vendors=[v.name for v in VENDORS])
        # Read now: the daily run below replaces each pipeline's trace.
        report.full_parts = run_parts(warehouse)
        report.floor_seconds = floor_seconds(per_vendor, report.latency_ms)
        if on_server:
            full, _ = turnout_run(sandboxes, on_server, "Turnout on PostgreSQL: full first load, 4 vendors",
                                  vendors=vendors, logs=workdir / "postgres")
            report.more.append((full, run_parts(on_server)))
        if baselines:
            report.naive = naive_run(sandboxes, workdir / "naive")
            pair_warehouse = workdir / "turnout_pair" / "turnout.duckdb"
            report.turnout_pair, _ = turnout_run(sandboxes, pair_warehouse,
                                                 "Turnout: OPUS + EventBookings", vendors=list(PEER_VENDORS))
            report.peer = peer_run(sandboxes, workdir / "peer")
        print(f"[{report.scale}] moving the sandboxes one day on …", flush=True)
        as_of = sandboxes.advance_one_day()
        report.daily, _ = turnout_run(sandboxes, warehouse, "Turnout: daily run, one day later",
                                      vendors=vendors, as_of=as_of)
        report.daily_parts = run_parts(warehouse)
        if on_server:
            daily, _ = turnout_run(sandboxes, on_server, "Turnout on PostgreSQL: daily run, one day later",
                                   vendors=vendors, as_of=as_of, logs=workdir / "postgres")
            report.more.append((daily, run_parts(on_server)))
            report.more.extend(storage_runs(sandboxes, warehouse, as_of, postgres, workdir))


def contender_env(sandboxes: Sandboxes, vendors: Sequence[str]) -> dict[str, str]:
    """The environment a contender runs in: this one's, without any vendor or Dagster
    settings of the user's, plus the sandboxes' settings for the chosen vendors."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SOURCES__") and key not in ("DAGSTER_HOME", "TURNOUT_WAREHOUSE")}
    prefixes = tuple(f"SOURCES__{name.upper()}__" for name in vendors)
    env.update({key: value for key, value in sandboxes.settings.items() if key.startswith(prefixes)})
    return env


def measured(label: str, command: list[str], sandboxes: Sandboxes, vendors: Sequence[str],
             warehouse: Path | str, schemas: Sequence[str], logs: Path | None = None,
             env: Mapping[str, str] | None = None) -> tuple[Measurement, dict[str, int]]:
    print(f"  {label} …", flush=True)
    served_before = sandboxes.requests_served()
    loads_before = load_ids(warehouse, schemas)
    run = run_process_tree(command, {**contender_env(sandboxes, vendors), **(env or {})},
                           (logs or Path(warehouse).parent) / f"{label[:60]}.log", cwd=PROJECT_ROOT)
    if run.returncode != 0:
        tail = run.log.read_text(errors="replace")[-3000:]
        raise ContenderFailed(f"{label} failed with exit code {run.returncode}; the end of {run.log}:\n{tail}")
    served_after = sandboxes.requests_served()
    per_vendor = {name: served_after[name] - served_before[name] for name in vendors}
    rows = rows_landed(warehouse, schemas, loads_before)
    measurement = Measurement(label, run.wall_seconds, sum(per_vendor.values()), rows, run.peak_rss_bytes)
    by_vendor = ", ".join(f"{name} {count:,}" for name, count in per_vendor.items())
    print(f"    {measurement.wall_seconds:.1f} s, {measurement.requests:,} requests ({by_vendor}), {rows:,} rows",
          flush=True)
    return measurement, per_vendor


def turnout_run(sandboxes: Sandboxes, warehouse: Path | str, label: str, vendors: Sequence[str],
                as_of: str | None = None, logs: Path | None = None,
                env: Mapping[str, str] | None = None) -> tuple[Measurement, dict[str, int]]:
    """`turnout run` on a DuckDB file (--warehouse), or on a PostgreSQL URL given in the
    environment, never on the command line, where its password would show."""
    server = isinstance(warehouse, str)
    logs = logs or Path(warehouse).parent
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "assets.cli", "run", *([] if server else ["--warehouse", str(warehouse)])]
    if as_of:
        command += ["--as-of", as_of]
    schemas = [f"raw_{name}" for name in vendors]
    extra = {**(env or {}), **({"TURNOUT_WAREHOUSE": warehouse} if server else {}),
             "TURNOUT_LOCAL_DIR": os.environ["TURNOUT_LOCAL_DIR"]}
    return measured(label, command, sandboxes, vendors, warehouse, schemas, logs, extra)


def storage_runs(sandboxes: Sandboxes, warehouse: Path, as_of: str, postgres: str,
                 workdir: Path) -> list[tuple[Measurement, RunParts]]:
    """The DuckDB daily run once more with Dagster's storage in SQLite (beside the warehouse, as
    `turnout run` keeps it), then in PostgreSQL: the same models and data, for the dbt step."""
    vendors = [v.name for v in VENDORS]
    runs = []
    again, _ = turnout_run(sandboxes, warehouse, "Turnout: daily run again, Dagster storage in SQLite",
                           vendors=vendors, as_of=as_of)
    runs.append((again, run_parts(warehouse)))
    home = workdir / "dagster-on-postgres"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_POSTGRES_YAML)
    storage = create_database(postgres, f"turnout_bench_dagster_{os.getpid()}").replace(
        "postgresql://", "postgresql+psycopg2://", 1)
    env = {"DAGSTER_HOME": str(home), "TURNOUT_DAGSTER_POSTGRES_URL": storage}
    again, _ = turnout_run(sandboxes, warehouse, "Turnout: daily run again, Dagster storage in PostgreSQL",
                           vendors=vendors, as_of=as_of, env=env)
    os.environ.update(env)  # so this process reads the run history where the run wrote it
    try:
        runs.append((again, run_parts(warehouse)))
    finally:
        for name in env:
            os.environ.pop(name, None)
    return runs


def create_database(server: str, name: str) -> str:
    """A new, empty database on the PostgreSQL server `server` names (dropped first if it is
    left from an earlier run); returns its URL."""
    import psycopg2

    connection = psycopg2.connect(server)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
            cursor.execute(f'create database "{name}"')
    finally:
        connection.close()
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}"))


def naive_run(sandboxes: Sandboxes, folder: Path) -> Measurement:
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / "naive.duckdb"
    vendors = [v.name for v in VENDORS]
    command = [sys.executable, "-m", "bench.naive", "--warehouse", str(warehouse),
               "--pipelines-dir", str(folder / "dlt")]
    measurement, _ = measured("Naive: sequential, dlt defaults, 4 vendors", command, sandboxes, vendors,
                              warehouse, [f"raw_{name}" for name in vendors])
    measurement.note = "no dbt"
    return measurement


def peer_run(sandboxes: Sandboxes, folder: Path) -> Measurement:
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / "rest_api.duckdb"
    command = [sys.executable, "-m", "bench.peer", "--warehouse", str(warehouse),
               "--pipelines-dir", str(folder / "dlt"), "--vendors", ",".join(PEER_VENDORS)]
    measurement, _ = measured("Peer: dlt rest_api, OPUS + EventBookings", command, sandboxes, PEER_VENDORS,
                              warehouse, [f"peer_{name}" for name in PEER_VENDORS])
    measurement.note = "no dbt; nested lists unnested into more tables"
    return measurement


def run_parts(warehouse: Path | str) -> RunParts:
    """Where the last run on `warehouse` spent its time."""
    from assets.ingest import VENDOR_STEP_PREFIX
    from assets.transform import DBT_STEP_NAME

    steps = last_run_steps(warehouse)
    return RunParts(vendor_steps=_seconds_in(steps, VENDOR_STEP_PREFIX),
                    extraction=extract_seconds(warehouse, [v.name for v in VENDORS]),
                    dbt=_seconds_in(steps, DBT_STEP_NAME))


def last_run_steps(warehouse: Path | str) -> dict[str, float]:
    """Seconds each finished step of the last run on `warehouse` took, from its run history."""
    from assets.runner import run_instance
    from assets.warehouse import Warehouse

    instance = run_instance(Warehouse.of(warehouse).location)
    runs = instance.get_runs(limit=1)
    if not runs:
        return {}
    stats = instance.get_run_step_stats(runs[0].run_id)
    return {s.step_key: s.end_time - s.start_time for s in stats if s.end_time and s.start_time}


def _seconds_in(steps: dict[str, float], prefix: str) -> float | None:
    matching = [seconds for key, seconds in steps.items() if key.startswith(prefix)]
    return sum(matching) if matching else None


def extract_seconds(warehouse: Path | str, vendors: Sequence[str]) -> float | None:
    """Seconds the last run spent in dlt's extract step, summed over vendors, from dlt's traces.

    Extraction is the step that makes every request (and parses the answers and writes them
    to local files); normalise and load after it make none, so it is what the floor bounds.
    """
    from dlt.pipeline.trace import load_trace

    from assets.ingest import pipeline_name
    from assets.warehouse import Warehouse

    total = 0.0
    for name in vendors:
        trace = load_trace(str(Warehouse.of(warehouse).dlt_working_dir() / pipeline_name(name)))
        steps = [step for step in (trace.steps if trace else []) if step.step == "extract" and step.finished_at]
        if not steps:
            return None
        total += sum((step.finished_at - step.started_at).total_seconds() for step in steps)
    return total


def vendor_concurrency() -> dict[str, int]:
    """Requests each vendor is read with at once, as configured by default."""
    concurrency = {}
    for vendor in VENDORS:
        parameter = inspect.signature(vendor.source).parameters.get("max_in_flight")
        # A source without the setting reads one request at a time.
        concurrency[vendor.name] = int(parameter.default) if parameter is not None else 1
    return concurrency


def floor_seconds(requests_by_vendor: dict[str, int], latency_ms: float) -> float:
    concurrency = vendor_concurrency()
    return sum(count * latency_ms / 1000 / concurrency[name] for name, count in requests_by_vendor.items())


def machine_line() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    return (f"machine: {_cpu_model()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(report: ScaleReport) -> str:
    lines = [
        f"\n### scale `{report.scale}`, {report.latency_ms:g} ms per request\n",
        "| run | wall s | requests | rows landed | rows/s | peak RSS MiB | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report.rows:
        lines.append(_row(row))
        if row is report.full and report.full_parts:
            lines.extend(_part_rows(report.full_parts, row, ""))
        if row is report.daily and report.daily_parts:
            lines.extend(_part_rows(report.daily_parts, row, ", daily run"))
    for row, parts in report.more:
        lines.append(_row(row))
        lines.extend(_part_rows(parts, row, f", {row.label.removeprefix('Turnout').strip(' :')}"))
    if report.floor_seconds is not None and report.full is not None:
        lines.append(f"| Floor: full load's requests × latency ÷ concurrency | {_seconds(report.floor_seconds)} "
                     f"| {report.full.requests:,} | | | | vendors one after another; "
                     f"{_concurrency_note()} |")
    return "\n".join(lines)


def _part_rows(parts: RunParts, run: Measurement, suffix: str) -> list[str]:
    """The rows under a Turnout run that split its time; what they leave out is start-up."""
    lines = []
    if parts.vendor_steps is not None:
        lines.append(f"| … of which vendor steps (extract, normalise, load){suffix} | {_seconds(parts.vendor_steps)} "
                     "| | | | | one vendor after another |")
    if parts.extraction is not None:
        lines.append(f"| … of which extraction (dlt's extract step){suffix} | {_seconds(parts.extraction)} "
                     f"| {run.requests:,} | | | | every request, its parsing and the extracted files |")
    if parts.dbt is not None:
        lines.append(f"| … of which dbt build and tests{suffix} | {_seconds(parts.dbt)} | | | | "
                     "| every model rebuilt, every test run |")
    if parts.vendor_steps is not None and parts.dbt is not None:
        rest = run.wall_seconds - parts.vendor_steps - parts.dbt
        lines.append(f"| … of which start-up and the rest{suffix} | {_seconds(rest)} | | | | "
                     "| Python and Dagster starting, the vendors' settings checked, the run launched |")
    return lines


def _row(m: Measurement) -> str:
    rate = f"{m.rows_per_second:,.0f}" if m.rows_per_second else ""
    peak = f"{m.peak_rss_bytes / MIB:,.0f}" if m.peak_rss_bytes else ""
    requests = f"{m.requests:,}" if m.requests is not None else ""
    rows = f"{m.rows:,}" if m.rows is not None else ""
    return f"| {m.label} | {_seconds(m.wall_seconds)} | {requests} | {rows} | {rate} | {peak} | {m.note} |"


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _concurrency_note() -> str:
    return ", ".join(f"{name} {count}" for name, count in vendor_concurrency().items()) + " in flight"


def render_targets(reports: Sequence[ScaleReport]) -> str:
    lines = ["\n### targets\n"]
    by_scale = {r.scale: r for r in reports}
    for report in reports:
        if report.full and report.naive:
            ratio = report.naive.wall_seconds / report.full.wall_seconds
            lines.append(_verdict(ratio >= 5, f"{report.scale}: full load {ratio:.1f}× faster than the naive "
                                              "baseline (target ≥ 5×)"))
        if report.turnout_pair and report.peer:
            ratio = report.peer.wall_seconds / report.turnout_pair.wall_seconds
            lines.append(_verdict(ratio > 1, f"{report.scale}: OPUS + EventBookings {ratio:.1f}× faster than "
                                             "the rest_api peer (target > 1×)"))
        full_parts, daily_parts = report.full_parts, report.daily_parts
        if full_parts and full_parts.extraction and report.floor_seconds:
            ratio = full_parts.extraction / report.floor_seconds
            text = f"{report.scale}: extraction {ratio:.2f}× the floor (target ≤ 2× at large)"
            # The target is set at large, where fixed costs per step weigh least.
            lines.append(_verdict(ratio <= 2, text) if report.scale == "large" else f"- for reference: {text}")
        if full_parts and full_parts.vendor_steps and report.floor_seconds:
            ratio = full_parts.vendor_steps / report.floor_seconds
            lines.append(f"- for reference: {report.scale}: vendor steps with normalise and load "
                         f"{ratio:.2f}× the floor")
        if report.full and report.daily:
            time_share = report.daily.wall_seconds / report.full.wall_seconds
            request_share = (report.daily.requests or 0) / max(1, report.full.requests or 0)
            lines.append(_verdict(time_share < 0.1, f"{report.scale}: daily run takes {time_share:.1%} of the "
                                                    "full load's time (target < 10 %)"))
            lines.append(_verdict(request_share < 0.1, f"{report.scale}: daily run makes {request_share:.1%} of "
                                                       "its requests (target < 10 %)"))
        if full_parts and daily_parts:
            for part, name in (("extraction", "extraction"), ("vendor_steps", "vendor steps"), ("dbt", "dbt build")):
                whole, day = getattr(full_parts, part), getattr(daily_parts, part)
                if whole and day is not None:
                    lines.append(f"- for reference: {report.scale}: daily run's {name}: {day:.1f} s, "
                                 f"{day / whole:.1%} of the full load's {whole:.1f} s")
    large, medium = by_scale.get("large"), by_scale.get("medium")
    if large and large.full and large.full.peak_rss_bytes:
        peak = large.full.peak_rss_bytes / 1024**3
        lines.append(_verdict(peak < 1.5, f"large: peak memory {peak:.2f} GiB (target < 1.5 GiB)"))
        if medium and medium.full and medium.full.peak_rss_bytes:
            growth = large.full.peak_rss_bytes / medium.full.peak_rss_bytes
            lines.append(_verdict(growth < 1.5, f"medium → large: peak memory grows {growth:.3f}× (target < 1.5×)"))
    return "\n".join(lines)


def _verdict(met: bool, text: str) -> str:
    return f"- {'met' if met else 'MISSED'}: {text}"


if __name__ == "__main__":
    sys.exit(main())
