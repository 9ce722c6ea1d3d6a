"""A code location with two loads into one warehouse, for the default-executor lock test.

The second vendor is OPUS again under another name: its own pipeline and dataset,
the same sandbox.
"""

import dataclasses

import dagster as dg

from assets.definitions import build_definitions
from pipelines.opus import VENDOR as OPUS

SECOND_OPUS = dataclasses.replace(OPUS, name="opus_second", title="OPUS DX (second account)")


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(vendors=(OPUS, SECOND_OPUS))
