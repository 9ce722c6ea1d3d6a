"""The product never carries its fakes: a run against vendors loads no sandbox code."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from assets.settings import PROJECT_ROOT

PRODUCTION_PACKAGES = ("pipelines", "assets")
FAKES = "sandboxes"

# Imports the definitions, runs the daily load through the CLI, then reports which modules
# of the sandboxes package the process ever loaded.
RUN_AND_REPORT = f"""
import json, sys
import assets.definitions
from assets.cli import main
code = main(["run", "--warehouse", sys.argv[1]])
print(json.dumps({{"exit": code, "loaded": sorted(m for m in sys.modules if m.split(".")[0] == "{FAKES}")}}))
"""


def _imports_at_module_level(tree: ast.Module) -> list[str]:
    """Modules imported by top-level statements (not inside a function, not under TYPE_CHECKING)."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", PRODUCTION_PACKAGES)
def test_no_production_module_imports_the_sandboxes_at_module_level(package):
    offenders = []
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        for name in _imports_at_module_level(ast.parse(path.read_text(), str(path))):
            if name.split(".")[0] == FAKES:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {name}")
    assert offenders == []


@pytest.mark.e2e
def test_importing_the_definitions_and_running_a_load_never_imports_the_sandboxes(
    opus_configured, tmp_path: Path
):
    warehouse = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()

    finished = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, str(warehouse)], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=600)

    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0, finished.stdout[-3000:]
    assert report["loaded"] == []
    # The load was real: the sandbox served by this process filled the marts.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(events,)] = con.sql("select count(*) from marts.dim_events where vendor = 'opus'").fetchall()
    assert events > 0
