"""Adding a vendor takes what README's "Adding a vendor" lists, and nothing more.

A copy of the project gets a made-up fifth vendor (tests/toy_vendor/) by exactly those
four things: its source package, its sandbox, its staging folder and one registry line.
`turnout demo` in the copy then serves, loads and models it with the other four.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from assets.settings import PROJECT_ROOT
from tests.toy_vendor.sandbox import EVENTS

TOY = Path(__file__).parent / "toy_vendor"
COPIED = ("pipelines", "assets", "sandboxes", "dbt_models", ".dlt", "pyproject.toml", "workspace.yaml")
NOT_COPIED = shutil.ignore_patterns("target", "logs", "__pycache__", "*.duckdb", ".user.yml")
REGISTRY_LINE = '    "icareus",\n'


def project_with_a_fifth_vendor(root: Path) -> Path:
    for name in COPIED:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=NOT_COPIED)
        else:
            shutil.copy2(source, root / name)
    # 1. its source package
    (root / "pipelines" / "toy").mkdir()
    shutil.copy2(TOY / "source.py", root / "pipelines" / "toy" / "__init__.py")
    # 2. its sandbox
    shutil.copy2(TOY / "sandbox.py", root / "sandboxes" / "toy.py")
    # 3. its staging folder
    shutil.copytree(TOY / "staging", root / "dbt_models" / "models" / "staging" / "toy")
    # 4. one registry line
    registry = root / "pipelines" / "registry.py"
    text = registry.read_text()
    assert REGISTRY_LINE in text
    registry.write_text(text.replace(REGISTRY_LINE, REGISTRY_LINE + '    "toy",\n'))
    return root


@pytest.mark.e2e
def test_a_fifth_vendor_added_by_the_four_steps_reaches_the_marts(tmp_path: Path):
    project = project_with_a_fifth_vendor(tmp_path / "project")
    warehouse = tmp_path / "demo.duckdb"
    env = {**os.environ, "PYTHONPATH": str(project), "DAGSTER_HOME": str(tmp_path / "dagster_home")}

    finished = subprocess.run(
        [sys.executable, "-m", "assets.cli", "demo", "--days", "0", "--warehouse", str(warehouse)],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        toy_events = con.sql("select vendor_event_id, name, starts_at from marts.dim_events "
                             "where vendor = 'toy' order by 1").fetchall()
        vendors = {vendor for (vendor,) in con.sql("select distinct vendor from marts.dim_events").fetchall()}
    assert [event_id for event_id, _, _ in toy_events] == [f"T{n}" for n in range(1, EVENTS + 1)]
    assert all(name and starts_at for _, name, starts_at in toy_events)
    assert vendors == {"opus", "eventbookings", "brp", "icareus", "toy"}
    # dbt's list of vendors followed the registry, in the copy only.
    assert "'toy'" in (project / "dbt_models" / "macros" / "turnout_vendors.sql").read_text()
    assert "'toy'" not in (PROJECT_ROOT / "dbt_models" / "macros" / "turnout_vendors.sql").read_text()
