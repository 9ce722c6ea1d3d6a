"""A second vendor for tests: OPUS again under another name, with its own
settings, pipeline and dataset (and no dbt staging of its own)."""

import dataclasses

import dagster as dg

from assets.definitions import build_definitions
from pipelines.opus import VENDOR as OPUS

SECOND_OPUS = dataclasses.replace(
    OPUS,
    name="opus_second",
    title="OPUS DX (second account)",
    # Its own dlt config section: SOURCES__OPUS_SECOND__*.
    source=OPUS.source.clone(name="opus_second", section="opus_second"),
)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(vendors=(OPUS, SECOND_OPUS))
