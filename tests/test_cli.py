"""The syco CLI in subprocesses: exit codes, listings, resume after kill -9 and Ctrl-C."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import SycoCli

SCRIPTED = ("eval", "--backend", "scripted", "--dataset", "inline", "--metrics", "none")


def _sorted_records(run: Path) -> list[str]:
    lines = (run / "records.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted(lines)


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from sycocore.cli import main\n"
        "status = main(['--help'])\n"
        "names = ('torch', 'transformers', 'llama_cpp', 'openai')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert status == 0, status\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_list_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from sycocore.cli import main\n"
        "for group in ('backends', 'manipulations', 'metrics', 'datasets', 'models'):\n"
        "    assert main(['list', group, '--json']) == 0\n"
        "names = ('torch', 'transformers', 'llama_cpp', 'openai')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_eval_json_prints_summary(syco_cli: SycoCli) -> None:
    result = syco_cli(*SCRIPTED, "--out", "run", "--json", check=True)
    payload = json.loads(result.stdout)
    assert payload["summary"]["complete"] is True
    assert payload["run_dir"] == "run"


def test_eval_default_out_resumes(syco_cli: SycoCli) -> None:
    first = syco_cli(*SCRIPTED, "--json", check=True)
    second = syco_cli(*SCRIPTED, "--json", check=True)
    assert json.loads(first.stdout)["run_dir"] == json.loads(second.stdout)["run_dir"]
    assert json.loads(first.stdout)["run_dir"].startswith("syco-runs/scripted-")


def test_eval_unknown_backend_exits_1(syco_cli: SycoCli) -> None:
    result = syco_cli("eval", "--backend", "scriptd", "--dataset", "inline")
    assert result.returncode == 1
    assert "unknown backend 'scriptd'; did you mean 'scripted'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_eval_bad_flag_exits_2(syco_cli: SycoCli) -> None:
    result = syco_cli("eval", "--no-such-flag")
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_eval_bad_backend_option_exits_1(syco_cli: SycoCli) -> None:
    result = syco_cli(*SCRIPTED, "-B", "delay=soon")
    assert result.returncode == 1
    assert "delay='soon'" in result.stderr


def test_eval_plugin_crash_exits_1_and_keeps_records(syco_cli: SycoCli) -> None:
    result = syco_cli(*SCRIPTED, "--out", "run", "-B", "fail_after=10", "--batch-size", "4")
    assert result.returncode == 1
    assert "backend 'scripted' failed while scoring: RuntimeError" in result.stderr
    assert "Traceback" not in result.stderr
    kept = _sorted_records(syco_cli.cwd / "run")
    assert len(kept) == 8
    syco_cli(*SCRIPTED, "--out", "run", check=True)
    assert len(_sorted_records(syco_cli.cwd / "run")) > 8


def test_eval_changed_config_refused(syco_cli: SycoCli) -> None:
    syco_cli(*SCRIPTED, "--out", "run", "--seed", "1", check=True)
    result = syco_cli(*SCRIPTED, "--out", "run", "--seed", "2")
    assert result.returncode == 1
    assert "seed: 1 in the run, 2 now" in result.stderr


def test_eval_no_resume_moves_old_run(syco_cli: SycoCli) -> None:
    syco_cli(*SCRIPTED, "--out", "run", check=True)
    syco_cli(*SCRIPTED, "--out", "run", "--no-resume", check=True)
    backups = list(syco_cli.cwd.glob("run.*.bak"))
    assert len(backups) == 1
    assert (backups[0] / "records.jsonl").is_file()


@pytest.mark.slow
def test_eval_sigkill_resume_matches_clean_run(syco_cli: SycoCli) -> None:
    slow = ("--batch-size", "2", "-B", "delay=0.05", "--manipulations", "none")
    syco_cli(*SCRIPTED, *slow, "--out", "clean", check=True)
    expected = _sorted_records(syco_cli.cwd / "clean")
    rng = random.Random(20261204)
    kills = 0
    for _ in range(60):
        process = syco_cli.popen(*SCRIPTED, *slow, "--out", "killed")
        time.sleep(rng.uniform(0.6, 1.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=60)
        records = syco_cli.cwd / "killed" / "records.jsonl"
        if records.exists() and len(_sorted_records(syco_cli.cwd / "killed")) == len(expected):
            break
    assert kills >= 3
    syco_cli(*SCRIPTED, *slow, "--out", "killed", check=True)
    assert _sorted_records(syco_cli.cwd / "killed") == expected


@pytest.mark.slow
def test_eval_ctrl_c_exits_130(syco_cli: SycoCli) -> None:
    process = syco_cli.popen(*SCRIPTED, "--batch-size", "1", "-B", "delay=0.2", "--out", "run")
    deadline = time.monotonic() + 30
    records = syco_cli.cwd / "run" / "records.jsonl"
    while time.monotonic() < deadline and not records.exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "re-run the same command to resume" in stderr
    assert "Traceback" not in stderr
