"""Settings a test starts from: only what the test itself sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Every vendor's first retry waits this long (the product's default is 0.5 s): the fault trials
# retry many requests, and what they prove is that retries happen, not how long they wait.
RETRY_BACKOFF = "0.02"


def isolate(patch: pytest.MonkeyPatch, root: Path) -> None:
    """dlt and Turnout settings come only from what the caller sets; dlt works under `root`."""
    patch.setenv("DLT_DATA_DIR", str(root / "dlt_data"))
    patch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    patch.setenv("TURNOUT_LOCAL_DIR", str(root / "turnout_local"))
    for name in ("TURNOUT_WAREHOUSE", "TURNOUT_HASH_PERSONAL_DATA", "DAGSTER_HOME",
                 "DESTINATION__POSTGRES__CREDENTIALS", "DBT_ENV_SECRET_TURNOUT_POSTGRES_PASSWORD"):
        patch.delenv(name, raising=False)
    for name in [name for name in os.environ if name.startswith("SOURCES__")]:
        patch.delenv(name)
    patch.setenv("SOURCES__RETRY_BACKOFF", RETRY_BACKOFF)
