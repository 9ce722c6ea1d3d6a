"""The dbt asset's housekeeping of per-run target folders."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from assets.transform import keep_partial_parse, prune_run_targets


def _run_target(root: Path, name: str, mtime: int) -> Path:
    folder = root / name
    (folder / "compiled").mkdir(parents=True)
    (folder / "run_results.json").write_text("{}")
    os.utime(folder, (mtime, mtime))
    return folder


def test_only_the_newest_run_targets_stay(tmp_path):
    folders = [_run_target(tmp_path, f"dbt_models-{n:07d}-abc", 1_000_000 + n) for n in range(10)]
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    other = _run_target(tmp_path, "compiled", 0)

    removed = prune_run_targets(tmp_path, keep=3)

    assert sorted(removed) == folders[:7]
    assert sorted(p for p in tmp_path.iterdir() if p.name.startswith("dbt_models-")) == folders[7:]
    assert manifest.exists() and other.exists(), "the project's own target files are not a run's"


def test_pruning_fewer_folders_than_kept_removes_none(tmp_path):
    folders = [_run_target(tmp_path, f"dbt_models-{n:07d}-abc", 1_000_000 + n) for n in range(2)]
    assert prune_run_targets(tmp_path, keep=7) == []
    assert all(folder.is_dir() for folder in folders)


def test_a_runs_parse_state_is_what_the_next_run_starts_from(tmp_path):
    (tmp_path / "partial_parse.msgpack").write_bytes(b"parsed without vars")
    run = _run_target(tmp_path, "dbt_models-0000001-abc", 1_000_000)
    (run / "partial_parse.msgpack").write_bytes(b"parsed with the run's vars")

    keep_partial_parse(run)

    assert (tmp_path / "partial_parse.msgpack").read_bytes() == b"parsed with the run's vars"
    assert not list(tmp_path.glob("*.next"))


def test_a_run_that_never_parsed_leaves_the_parse_state_alone(tmp_path):
    (tmp_path / "partial_parse.msgpack").write_bytes(b"parsed without vars")
    keep_partial_parse(_run_target(tmp_path, "dbt_models-0000001-abc", 1_000_000))
    assert (tmp_path / "partial_parse.msgpack").read_bytes() == b"parsed without vars"


def test_runs_handing_over_their_parse_state_at_once_all_succeed(tmp_path):
    # Runs on different warehouses share the dbt project's target folder.
    runs = [_run_target(tmp_path, f"dbt_models-{n:07d}-abc", 1_000_000 + n) for n in range(8)]
    for n, run in enumerate(runs):
        (run / "partial_parse.msgpack").write_bytes(f"parse state of run {n}".encode() * 20_000)

    with ThreadPoolExecutor(len(runs)) as pool:
        for _ in range(25):
            list(pool.map(keep_partial_parse, runs))  # raises if any hand-over failed

    kept = (tmp_path / "partial_parse.msgpack").read_bytes()
    assert kept in {(run / "partial_parse.msgpack").read_bytes() for run in runs}
    assert not list(tmp_path.glob("*.next"))
