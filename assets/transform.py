"""dbt assets: staging views and marts, with dbt tests as asset checks."""

import datetime as dt
import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from assets.locks import step_holder
from assets.settings import (
    AS_OF_TAG,
    DBT_PROJECT_DIR,
    WAREHOUSE_OP_TAG,
    WAREHOUSE_POOL,
    hash_personal_data,
)
from assets.vendor_models import VENDOR_FOLDERS, write_vendor_macro
from assets.warehouse import Warehouse, WarehouseBusy
from pipelines.registry import VENDORS

MANIFEST_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")
# dagster-dbt gives every invocation a target folder of its own (compiled SQL, run results).
# A week of daily runs stays for inspection; older folders would grow without bound.
KEPT_RUN_TARGETS = 7
DBT_STEP_NAME = "dbt_models"  # the dbt assets' step (and op); it names their run target folders too
RUN_TARGET_PATTERN = f"{DBT_STEP_NAME}-*"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PARSE_LOCK_FILE = ".parse.lock"  # in the target folder, which git ignores


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """dbt sources take the keys of the dlt assets that load them: one lineage graph."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        # fqn is [project, folder, ...]: staging, intermediate or marts.
        return fqn[1] if len(fqn) > 2 else "marts"


def dbt_executable() -> str:
    """The dbt installed with Turnout, found even when its environment is not activated."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def ensure_manifest(project: DbtProject) -> Path:
    """Parses the dbt project when its manifest is missing or older than its sources, after
    bringing dbt's list of vendors up to date with the registry (assets.vendor_models).

    `prepare_if_dev()` only does this under `dagster dev`; the CLI and tests need it too.
    """
    manifest = Path(project.manifest_path)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    # One parse at a time: processes sharing the project (`dagster dev` beside `turnout run`,
    # runs on other warehouses) would otherwise write the manifest while another reads it.
    with open(manifest.parent / PARSE_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_vendor_macro(Path(project.project_dir), VENDORS)
        if not manifest.exists() or manifest.stat().st_mtime < _newest_input(project.project_dir):
            DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
                ["--quiet", "parse"], target_path=project.target_path
            ).wait()
    return manifest


def keep_partial_parse(run_target: Path) -> None:
    """Makes a run's parse state the one the next run starts from.

    dagster-dbt seeds each run's target folder with the project's partial parse file, but that
    one comes from `dbt parse` without the run's vars, so dbt would parse the whole project
    again on every run (seconds each day). A run for a business date other than today has
    vars of its own (see dbt_vars) and parses the whole project once.
    """
    parsed = run_target / PARTIAL_PARSE_FILE
    if not parsed.is_file():
        return
    kept = run_target.parent / PARTIAL_PARSE_FILE
    # A staging file of this writer's own: runs on other warehouses share the project and
    # may hand over their parse state at the same moment; the last replace wins, whole.
    handle, staged_name = tempfile.mkstemp(dir=run_target.parent, prefix=f"{PARTIAL_PARSE_FILE}.", suffix=".next")
    os.close(handle)
    staged = Path(staged_name)
    try:
        shutil.copyfile(parsed, staged)
        staged.replace(kept)
    finally:
        staged.unlink(missing_ok=True)


def prune_run_targets(target_root: Path, keep: int = KEPT_RUN_TARGETS) -> list[Path]:
    """Removes all but the newest `keep` per-run target folders; returns those removed."""
    folders = sorted(
        (path for path in target_root.glob(RUN_TARGET_PATTERN) if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return folders[keep:]


def _newest_input(project_dir: Path) -> float:
    newest = 0.0
    for name in MANIFEST_INPUTS:
        path = Path(project_dir) / name
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def dbt_vars(settings: Mapping[str, Any], as_of: str | None, today: dt.date | None = None) -> str:
    """`--vars` for one build: the code location's settings and the run's business date.

    The business date goes as var `as_of`, by which the macro business_now() judges every
    clock-driven figure. A run for today passes none: dbt then judges by the build's start,
    as it would for today, and the vars stay the same from one day's run to the next, so
    dbt keeps its parse (a var that changed makes it parse the whole project, about 4 s).
    """
    business_date = (as_of or "").strip()[:10]
    today = today or dt.datetime.now(dt.UTC).date()
    dated = {"as_of": business_date} if business_date and business_date != today.isoformat() else {}
    return json.dumps({**settings, **dated})


def warehouse_models(project: DbtProject, without_vendors: Sequence[str] = ()) -> dg.AssetsDefinition:
    """The dbt models as assets, built in the run's `warehouse` resource; a code location without
    some vendors leaves out their own models."""
    exclude = " ".join(f"path:models/{layer}/{vendor}" for vendor in without_vendors for layer in VENDOR_FOLDERS)

    @dbt_assets(
        manifest=ensure_manifest(project),
        project=project,
        exclude=exclude or None,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        name=DBT_STEP_NAME,
        pool=WAREHOUSE_POOL,
        op_tags={WAREHOUSE_OP_TAG: "warehouse"},
    )
    def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator[Any]:
        settings = {**warehouse.dbt_target(), "hash_personal_data": hash_personal_data()}
        try:
            with warehouse.exclusive(say=context.log.warning, holder=step_holder(context)):
                build_vars = dbt_vars(settings, context.run.tags.get(AS_OF_TAG))
                with warehouse.dbt_environment():
                    invocation = dbt.cli(["build", *warehouse.dbt_arguments(), "--vars", build_vars], context=context)
                    yield from invocation.stream()
            run_target = Path(invocation.target_path)
            keep_partial_parse(run_target)
            prune_run_targets(run_target.parent)
        except WarehouseBusy as busy:
            raise dg.Failure(description=str(busy)) from None

    return dbt_models
