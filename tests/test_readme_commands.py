"""README's commands, run as written.

The Dagster command is run from a folder laid out as README assumes (the project's
`.venv` and `workspace.yaml`, the warehouse under `warehouse/`), after a `turnout run`
there; Dagster's GraphQL API must then show that run and the `turnout_warehouse` pool.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assets.cli import main
from assets.settings import WAREHOUSE_POOL

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
UI_START_SECONDS = 300  # `dagster dev` loads the code location, dbt manifest included, on a busy machine
RUNS = "{ runsOrError { ... on Runs { results { runId status } } } }"
POOLS = "{ instance { concurrencyLimits { concurrencyKey } } }"


def readme_command(containing: str) -> str:
    """The one command line in README's bash blocks that holds `containing`."""
    lines = [line.strip() for block in BASH_BLOCK.findall(README.read_text())
             for line in block.splitlines() if containing in line]
    assert len(lines) == 1, f"README should give one command with {containing!r}, found {lines}"
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def readme_folder(tmp_path: Path) -> Path:
    """A folder laid out as README's commands expect: the project's environment and workspace."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    shutil.copy(ROOT / "workspace.yaml", tmp_path / "workspace.yaml")
    return tmp_path


@dataclass
class DagsterUI:
    """README's Dagster command, running: its GraphQL address, its process and its log."""

    address: str
    process: subprocess.Popen
    log: Path

    def graphql(self, query: str) -> dict:
        """Asks the UI once it answers, waiting for it to start; on giving up, says why."""
        deadline = time.monotonic() + UI_START_SECONDS
        while True:
            try:
                answer = httpx.post(self.address, json={"query": query}, timeout=30)
                answer.raise_for_status()
                return answer.json()["data"]
            except httpx.HTTPError as error:
                exited = self.process.poll()
                if exited is not None or time.monotonic() > deadline:
                    state = (f"exited with {exited}" if exited is not None
                             else f"not answering after {UI_START_SECONDS} s")
                    log = self.log.read_text(errors="replace")[-4000:]
                    raise AssertionError(f"`dagster dev` {state} ({error}); its log ends:\n{log}") from None
                time.sleep(1)


@pytest.fixture
def dagster_ui(readme_folder: Path) -> Iterator[DagsterUI]:
    """README's Dagster command, as written, on a free port."""
    port = free_port()
    log_path = readme_folder / "dagster-dev.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        ["bash", "-c", f"{readme_command('dagster dev')} -p {port}"], cwd=readme_folder,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PWD": str(readme_folder)},
    )
    try:
        yield DagsterUI(f"http://127.0.0.1:{port}/graphql", process, log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_dagster_command_shows_turnout_runs_and_the_warehouse_pool(
    opus_configured, readme_folder, dagster_ui, monkeypatch
):
    monkeypatch.chdir(readme_folder)
    warehouse = readme_folder / "warehouse" / "turnout.duckdb"
    assert main(["run", "--warehouse", str(warehouse), "--as-of", opus_configured.app.today.isoformat()]) == 0

    runs = dagster_ui.graphql(RUNS)["runsOrError"]["results"]
    assert [run["status"] for run in runs] == ["SUCCESS"]
    pools = dagster_ui.graphql(POOLS)["instance"]["concurrencyLimits"]
    assert WAREHOUSE_POOL in [pool["concurrencyKey"] for pool in pools]
