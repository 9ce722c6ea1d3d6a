"""Peak memory of a BRP load as the vendor's answer grows tenfold.

    .venv/bin/python -m tests.brp_memory [--events 3000] [--factor 10]

For each size the BRP sandbox is served from its own process (so its data
does not count), one first-run load of every event and participant into a
fresh DuckDB file runs in another, and that process's peak resident memory
is read from the kernel (`wait4`). Prints the answer's size, rows loaded,
time and peak memory of both loads and their ratio.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sandboxes.brp import EVENTS_PATH

SEED = 11
KEY_SETTING = "SOURCES__BRP__API_KEY"
EVERY_EVENT = {"startdate": "1970-01-01", "includeparticipants": "true", "bookablefrominternet": "false"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000, help="events of the smaller answer (default 3000)")
    parser.add_argument("--factor", type=int, default=10, help="how many times larger the second is (default 10)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=3, metavar=("URL", "START", "WAREHOUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.serve)
    if args.load:
        return _load(*args.load)

    results = [_measure(args.events), _measure(args.events * args.factor)]
    print(f"{'events':>9} {'answer MB':>10} {'participants':>13} {'load s':>8} {'peak RSS MB':>12}")
    for events, answer_bytes, participants, seconds, peak_kb in results:
        print(f"{events:>9,} {answer_bytes / 1e6:>10.1f} {participants:>13,} {seconds:>8.1f} {peak_kb / 1024:>12.0f}")
    small, large = results
    print(f"answer grew {large[1] / small[1]:.1f}x; peak memory grew {large[4] / small[4]:.2f}x")
    return 0


def _measure(events: int) -> tuple[int, int, int, float, int]:
    # The sandbox's own key differs per process: the server and the loader share this one.
    api_key = secrets.token_urlsafe(18)
    env = {**os.environ, KEY_SETTING: api_key}
    server = subprocess.Popen([sys.executable, "-m", "tests.brp_memory", "--serve", str(events)],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        base_url, start_date = server.stdout.readline().split()
        answer_bytes = _answer_size(base_url, api_key)
        with tempfile.TemporaryDirectory(prefix="turnout-brp-memory-") as folder:
            warehouse = Path(folder) / "brp.duckdb"
            began = time.perf_counter()
            load = subprocess.Popen([sys.executable, "-m", "tests.brp_memory", "--load",
                                     base_url, start_date, str(warehouse)],
                                    stdout=subprocess.PIPE, text=True, env={**env, "DLT_DATA_DIR": folder})
            output = load.stdout.read()
            _, status, usage = os.wait4(load.pid, 0)
            seconds = time.perf_counter() - began
            if status != 0:
                raise SystemExit(f"the load of {events} events failed:\n{output}")
            participants = int(output.split()[-1])
        return events, answer_bytes, participants, seconds, usage.ru_maxrss
    finally:
        server.terminate()
        server.wait()


def _answer_size(base_url: str, api_key: str) -> int:
    size = 0
    with httpx.stream("GET", base_url + EVENTS_PATH, params={"apikey": api_key, **EVERY_EVENT},
                      timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
    return size


def _serve(events: int) -> int:
    from sandboxes.brp import BrpSandbox
    from sandboxes.server import SandboxServer

    app = BrpSandbox(seed=SEED, scale="large", events=events, api_key=os.environ[KEY_SETTING])
    with SandboxServer(app) as server:
        settings = app.settings(server.base_url)
        print(server.base_url, settings["SOURCES__BRP__START_DATE"], flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _load(base_url: str, start_date: str, warehouse: str) -> int:
    import dlt
    import duckdb

    from pipelines.brp import brp_source

    pipeline = dlt.pipeline(pipeline_name="brp_memory", destination=dlt.destinations.duckdb(warehouse),
                            dataset_name="raw_brp", pipelines_dir=str(Path(warehouse).parent / "pipelines"))
    # The API key comes from the environment, as configured for a real run.
    pipeline.run(brp_source(base_url=base_url, start_date=start_date),
                 loader_file_format="parquet")
    with duckdb.connect(warehouse, read_only=True) as con:
        [(participants,)] = con.execute("select count(*) from raw_brp.participants").fetchall()
    print(participants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
