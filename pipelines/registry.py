"""The vendors Turnout loads. Registering a vendor is one line here: the name of its package
under pipelines/, whose VENDOR describes it. dbt's list of vendors derives from this one
(assets/vendor_models.py), and a vendor's sandbox is found by the same name (sandboxes.registry)."""

from __future__ import annotations

import importlib

from pipelines.vendor import Vendor

VENDOR_PACKAGES = (
    "opus",
    "eventbookings",
    "brp",
    "icareus",
)

VENDORS: tuple[Vendor, ...] = tuple(importlib.import_module(f"pipelines.{name}").VENDOR for name in VENDOR_PACKAGES)
