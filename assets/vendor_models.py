"""dbt's list of vendors, generated from the registry (pipelines/registry.py).

dbt reads it as the macro `turnout_vendors()`: per registered vendor, in the registry's
order, each entity its models provide and the model that provides it. A vendor's models
are found by name in its folders: `staging/<vendor>/stg_<vendor>__<entity>.sql`, and
`intermediate/<vendor>/int_<vendor>__<entity>.sql` for an entity made of several staging
models (the intermediate one is then the vendor's entity). The file is written before
each parse of the project when it differs, so a vendor registered, or a model added, is
in dbt's list on the next run, and never only there.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pipelines.vendor import Vendor

GENERATED_MACRO = Path("macros") / "turnout_vendors.sql"
LAYERS = (("staging", "stg"), ("intermediate", "int"))  # later layers win
# Where a vendor's own models live: one folder per vendor in each.
VENDOR_FOLDERS = tuple(folder for folder, _ in LAYERS)
VENDOR_MODEL = re.compile(rf"^(?P<prefix>{'|'.join(prefix for _, prefix in LAYERS)})_(?P<vendor>[a-z0-9]+)__(?P<entity>\w+)$")
HEADER = (
    "{#\n"
    "  Generated from pipelines/registry.py and the vendors' model files by\n"
    "  assets/vendor_models.py before each parse: edit those, not this file.\n"
    "  Per vendor, each entity its models provide and the model providing it.\n"
    "#}\n"
)


def vendor_models(project_dir: Path, vendors: Sequence[Vendor]) -> dict[str, dict[str, str]]:
    """Per vendor name (registry order), entity -> the dbt model that provides it."""
    found = {}
    for vendor in vendors:
        if not (project_dir / "models" / "staging" / vendor.name).is_dir():
            raise LookupError(f"{vendor.title}: registered in pipelines/registry.py, but the dbt project has "
                              f"no staging folder models/staging/{vendor.name}/")
        models: dict[str, str] = {}
        for folder, prefix in LAYERS:
            for path in sorted((project_dir / "models" / folder / vendor.name).glob("*.sql")):
                match = VENDOR_MODEL.match(path.stem)
                if match and (match["prefix"], match["vendor"]) == (prefix, vendor.name):
                    models[match["entity"]] = path.stem
        found[vendor.name] = dict(sorted(models.items()))
    return found


def model_vendor(model_name: str) -> str | None:
    """The vendor whose own model this is (stg_<vendor>__… or int_<vendor>__…); None for the others."""
    match = VENDOR_MODEL.match(model_name)
    return match["vendor"] if match else None


def render(models: dict[str, dict[str, str]]) -> str:
    """The macro file for `models` (see vendor_models)."""
    lines = [HEADER, "{% macro turnout_vendors() -%}", "{{ return({"]
    for vendor, entities in models.items():
        lines.append(f"    '{vendor}': {{")
        lines.extend(f"        '{entity}': '{model}'," for entity, model in entities.items())
        lines.append("    },")
    lines += ["}) }}", "{%- endmacro %}", ""]
    return "\n".join(lines)


def write_vendor_macro(project_dir: Path, vendors: Sequence[Vendor]) -> bool:
    """Writes the generated macro when it differs from what is there; True when it did."""
    path = project_dir / GENERATED_MACRO
    text = render(vendor_models(project_dir, vendors))
    if path.is_file() and path.read_text() == text:
        return False
    # Replaced whole: builds of other warehouses may parse the same project at the moment.
    handle, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".next")
    with os.fdopen(handle, "w") as staged_file:
        staged_file.write(text)
    Path(staged).replace(path)
    return True
