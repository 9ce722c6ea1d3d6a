"""Where a CLI run's library output goes: the run's log file, not the person's terminal."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

# Loggers whose warnings no user can act on (dlt's "columns did not receive any data ...
# provide type hints"); they read as failures in the terminal, so they go to the run log.
LIBRARY_LOGGERS = ("dlt",)


@contextlib.contextmanager
def run_log(warehouse: Path) -> Iterator[Path]:
    """Sends dbt's, Dagster's and dlt's output to a log file beside the warehouse."""
    logs = warehouse.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"turnout-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.log"
    with (path.open("a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log),
          library_logs_to(log)):
        yield path


@contextlib.contextmanager
def library_logs_to(stream: TextIO) -> Iterator[None]:
    """Points the library loggers' console handlers at `stream` for a while.

    Redirecting sys.stderr is not enough: a logging handler keeps the stream it was made
    with. dlt adopts a logger's first handler when it sets up its own, so one is added here
    when there is none yet.
    """
    swapped: list[tuple[logging.StreamHandler, TextIO]] = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                swapped.append((handler, handler.setStream(stream)))
    try:
        yield
    finally:
        for handler, previous in swapped:
            handler.setStream(previous)
