"""The vendors Turnout loads. Registering a vendor is one line here."""

from __future__ import annotations

from pipelines import brp, eventbookings, icareus, opus
from pipelines.vendor import Vendor

VENDORS: tuple[Vendor, ...] = (
    opus.VENDOR,
    eventbookings.VENDOR,
    brp.VENDOR,
    icareus.VENDOR,
)

