"""One list of vendors: dbt's list, its accepted values and the model folders agree with the registry."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from assets.settings import DBT_PROJECT_DIR
from assets.transform import dbt_executable, dbt_project, ensure_manifest
from assets.vendor_models import GENERATED_MACRO, render, vendor_models
from pipelines.registry import VENDORS
from pipelines.vendor import Vendor

REGISTERED = [vendor.name for vendor in VENDORS]
CONFORMED_UNIONS = {"int_events": "events", "int_sessions": "sessions", "int_people": "people",
                    "int_registrations": "registrations", "int_session_attendance": "session_attendance",
                    "int_orders": "orders"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(ensure_manifest(dbt_project()).read_text())


def test_the_committed_dbt_vendor_list_is_the_registry():
    # Also what a hand-run `dbt build` reads, before Turnout has parsed anything.
    committed = (DBT_PROJECT_DIR / GENERATED_MACRO).read_text()
    assert committed == render(vendor_models(DBT_PROJECT_DIR, VENDORS))
    assert list(vendor_models(DBT_PROJECT_DIR, VENDORS)) == REGISTERED


def test_every_vendor_folder_in_dbt_is_registered_and_every_registered_vendor_has_one():
    for layer in ("staging", "intermediate"):
        folders = {path.name for path in (DBT_PROJECT_DIR / "models" / layer).iterdir() if path.is_dir()}
        assert folders <= set(REGISTERED), layer
    assert {path.name for path in (DBT_PROJECT_DIR / "models" / "staging").iterdir() if path.is_dir()} == set(REGISTERED)


def test_the_project_names_no_vendor_list_of_its_own():
    project = (DBT_PROJECT_DIR / "dbt_project.yml").read_text()
    marts = (DBT_PROJECT_DIR / "models" / "marts" / "_marts.yml").read_text()
    assert "turnout_vendors" not in project
    # A literal list naming every vendor, as accepted values once were.
    everyone = re.compile(r"\[\s*" + r"\s*,\s*".join(r"\w+" for _ in REGISTERED) + r"\s*\]")
    assert not [line for line in marts.splitlines() if everyone.search(line) and REGISTERED[0] in line]


def test_the_unions_read_each_registered_vendor_that_provides_the_entity(manifest):
    models = vendor_models(DBT_PROJECT_DIR, VENDORS)
    for union, entity in CONFORMED_UNIONS.items():
        parents = set(manifest["nodes"][f"model.turnout.{union}"]["depends_on"]["nodes"])
        expected = {f"model.turnout.{entities[entity]}" for entities in models.values() if entity in entities}
        assert expected and expected <= parents, union
    # Every registered vendor's events reach the marts.
    assert {models[name]["events"] for name in REGISTERED} <= {
        parent.split(".")[-1] for parent in manifest["nodes"]["model.turnout.int_events"]["depends_on"]["nodes"]}


def test_the_accepted_vendors_of_the_marts_are_the_registry(tmp_path):
    compiled = subprocess.run(
        [dbt_executable(), "compile", "--quiet", "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
         "--vars", json.dumps({"warehouse_path": str(tmp_path / "w.duckdb")}),
         "--select", "accepted_values_dim_events_vendor"],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, check=True).stdout
    accepted = re.search(r"not in \((.*?)\)", compiled, re.S)
    assert accepted, compiled
    assert re.findall(r"'(\w+)'", accepted.group(1)) == REGISTERED


def test_a_registered_vendor_without_a_staging_folder_is_named(tmp_path):
    (tmp_path / "models" / "staging").mkdir(parents=True)
    toy = Vendor(name="toy", title="Toy Events", source=lambda: None, required_settings=())
    with pytest.raises(LookupError, match=r"Toy Events: registered in pipelines/registry.py.*models/staging/toy/"):
        vendor_models(tmp_path, [toy])


def test_an_intermediate_model_of_a_vendor_stands_for_its_entity(tmp_path):
    for folder, name in (("staging", "stg_toy__people"), ("staging", "stg_toy__events"),
                         ("intermediate", "int_toy__people")):
        (tmp_path / "models" / folder / "toy").mkdir(parents=True, exist_ok=True)
        (tmp_path / "models" / folder / "toy" / f"{name}.sql").write_text("select 1")
    toy = Vendor(name="toy", title="Toy Events", source=lambda: None, required_settings=())
    assert vendor_models(tmp_path, [toy]) == {"toy": {"events": "stg_toy__events", "people": "int_toy__people"}}
