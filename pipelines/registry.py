"""The vendors Turnout loads. Registering a vendor is one line here."""

from __future__ import annotations

from pipelines import opus
from pipelines.vendor import Vendor

VENDORS: tuple[Vendor, ...] = (opus.VENDOR,)


def vendor_named(name: str) -> Vendor:
    for vendor in VENDORS:
        if vendor.name == name:
            return vendor
    raise KeyError(f"unknown vendor {name!r}; known: {', '.join(v.name for v in VENDORS)}")
