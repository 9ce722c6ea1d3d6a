"""Library warnings a user cannot act on go to the run's log file, not the terminal."""

from __future__ import annotations

import logging

import pytest

from assets.runlog import run_log

WARNING = "columns did not receive any data"


@pytest.fixture(autouse=True)
def _dlt_logger_restored():
    dlt_logger = logging.getLogger("dlt")
    handlers, propagate = list(dlt_logger.handlers), dlt_logger.propagate
    yield
    dlt_logger.handlers[:] = handlers
    dlt_logger.propagate = propagate


def test_dlt_warnings_during_a_run_go_to_its_log_file_and_the_terminal_gets_them_back_after(
    tmp_path, capfd
):
    dlt_logger = logging.getLogger("dlt")
    # As dlt sets itself up: its handler was made before the run, on the terminal's stderr.
    dlt_logger.handlers.clear()
    dlt_logger.addHandler(logging.StreamHandler())
    dlt_logger.propagate = False

    with run_log(tmp_path / "warehouse.duckdb") as log_file:
        dlt_logger.warning(WARNING)

    assert WARNING in log_file.read_text()
    assert WARNING not in capfd.readouterr().err
    dlt_logger.warning("after the run")
    assert "after the run" in capfd.readouterr().err


def test_a_dlt_logger_set_up_during_the_run_writes_to_the_log_too(tmp_path, capfd):
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.handlers.clear()

    with run_log(tmp_path / "warehouse.duckdb") as log_file:
        # dlt adopts the first handler it finds on its logger when it sets itself up.
        handler = next(iter(dlt_logger.handlers), logging.StreamHandler())
        dlt_logger.propagate = False
        dlt_logger.warning(WARNING)

    assert handler in dlt_logger.handlers
    assert WARNING in log_file.read_text()
    assert WARNING not in capfd.readouterr().err
