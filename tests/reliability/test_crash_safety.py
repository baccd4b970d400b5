"""Crash safety of ``syco eval``: kill -9 at random points, Ctrl-C, and resume.

A run killed at any point and re-run until it finishes must end with the same
records and the same summary as a run never interrupted. At no point may the
records file contain a record twice, or a damaged line other than a torn last
line, which the next run cuts off.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import SycoCli
from .support import SCRIPTED, read_summary, record_keys, sorted_lines

# 6 cases x 2 orders x (neutral + 4 belief manipulations) = 60 records, scored two
# prompts a batch with a pause per batch, so a kill lands inside scoring.
SLOW_RUN = (
    *SCRIPTED,
    "--manipulations",
    "belief",
    "--metrics",
    "decomposition",
    "-M",
    "decomposition.resamples=200",
    "--batch-size",
    "2",
    "-B",
    "delay=0.04",
)
TOTAL_RECORDS = 60
KILLS = 24
SEED = 20260607


def _count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_when(process: subprocess.Popen[str], records: Path, target: int, pause: float) -> bool:
    """Wait until ``records`` has ``target`` lines, then ``pause`` seconds, then SIGKILL.

    Returns whether the process was still running when the signal was sent.
    """
    deadline = time.monotonic() + 60
    while _count_lines(records) < target and process.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"the run never reached {target} records")
        time.sleep(0.005)
    time.sleep(pause)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return True


@pytest.mark.slow
def test_sigkill_resume_equals_clean_run(syco_cli: SycoCli) -> None:
    clean_env = dict(syco_cli.env, SYCO_CACHE_DIR=str(syco_cli.cwd / "clean-cache"))
    clean = SycoCli(syco_cli.site, clean_env, syco_cli.cwd)
    clean(*SLOW_RUN, "--out", "clean", check=True)
    expected_records = sorted_lines(syco_cli.cwd / "clean" / "records.jsonl")
    expected_summary = read_summary(syco_cli.cwd / "clean")
    assert len(expected_records) == TOTAL_RECORDS
    assert expected_summary["metrics"]["decomposition"]["cases"]["total"] == 6

    rng = random.Random(SEED)
    # Kill points: a record count to wait for, then a pause of up to one batch, so
    # a kill lands at startup, between batches, during an append or in the metrics.
    targets = sorted(rng.randint(0, TOTAL_RECORDS) for _ in range(KILLS - 2))
    targets += [TOTAL_RECORDS, TOTAL_RECORDS]
    records = syco_cli.cwd / "killed" / "records.jsonl"
    kills = 0
    for target in targets:
        process = syco_cli.popen(*SLOW_RUN, "--out", "killed")
        before = _count_lines(records)
        if target <= before:
            pause = rng.uniform(0.0, 1.5)
        elif target == TOTAL_RECORDS:
            pause = rng.uniform(0.0, 3.0)
        else:
            pause = rng.uniform(0.0, 0.05)
        try:
            killed = _kill_when(process, records, target, pause)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)
        kills += killed
        if not killed:
            assert process.returncode == 0, f"run ended with {process.returncode}"

        keys, _torn = record_keys(records)
        assert len(keys) == len(set(keys)), f"duplicate records after a kill at {target}"
        assert len(keys) <= TOTAL_RECORDS

    assert kills >= 20, f"only {kills} of {len(targets)} kill points hit a running process"
    syco_cli(*SLOW_RUN, "--out", "killed", check=True)
    assert sorted_lines(records) == expected_records
    assert read_summary(syco_cli.cwd / "killed") == expected_summary
    manifest = json.loads((syco_cli.cwd / "killed" / "manifest.json").read_text("utf-8"))
    clean_manifest = json.loads((syco_cli.cwd / "clean" / "manifest.json").read_text("utf-8"))
    assert manifest["config_hash"] == clean_manifest["config_hash"]


@pytest.mark.slow
def test_ctrl_c_exits_130_and_resumes(syco_cli: SycoCli) -> None:
    run = ("--batch-size", "1", "--metrics", "none", "--out", "run")
    process = syco_cli.popen(*SCRIPTED, *run, "-B", "delay=0.1")
    records = syco_cli.cwd / "run" / "records.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count_lines(records) < 3:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "re-run the same command to resume" in stderr
    keys, torn = record_keys(records)
    assert len(keys) >= 3
    assert len(keys) == len(set(keys))
    assert not torn

    # The delay is a runtime option, so the resumed run may leave it out.
    resumed = syco_cli(*SCRIPTED, *run, "--json", check=True)
    summary = json.loads(resumed.stdout)["summary"]
    assert summary["complete"] is True
    final_keys, _ = record_keys(records)
    assert final_keys[: len(keys)] == keys
    assert len(final_keys) == len(set(final_keys)) == summary["expected_records"]


@pytest.mark.slow
def test_second_writer_rejected_while_running(syco_cli: SycoCli) -> None:
    run = (*SCRIPTED, "--metrics", "none", "--manipulations", "belief", "--batch-size", "1")
    run = (*run, "-B", "delay=0.1")
    records = syco_cli.cwd / "run" / "records.jsonl"
    first = syco_cli.popen(*run, "--out", "run")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count_lines(records) < 2:
        time.sleep(0.02)

    second = syco_cli(*run, "--out", "run")
    first.communicate(timeout=120)

    assert second.returncode == 1
    assert "run is in use by another syco process" in second.stderr
    assert first.returncode == 0
    keys, torn = record_keys(records)
    assert len(keys) == len(set(keys))
    assert not torn
