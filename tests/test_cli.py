"""The syco CLI in subprocesses: exit codes, listings and resume.

Kill -9, Ctrl-C and bad input are tested in tests/reliability/."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import SycoCli

SCRIPTED = ("eval", "--backend", "scripted", "--dataset", "inline", "--metrics", "none")


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


def test_eval_two_dataset_files_rejected(syco_cli: SycoCli) -> None:
    (syco_cli.cwd / "a.jsonl").write_text("", encoding="utf-8")
    result = syco_cli("eval", "--dataset", "a.jsonl", "--dataset-path", "b.csv")
    assert result.returncode == 1
    assert "name two files" in result.stderr


def test_eval_empty_metrics_rejected(syco_cli: SycoCli) -> None:
    result = syco_cli(*SCRIPTED[:-2], "--metrics", "")
    assert result.returncode == 1
    assert "--metrics is empty" in result.stderr


def test_eval_prints_flip_rate_table(syco_cli: SycoCli) -> None:
    args = (*SCRIPTED[:-1], "decomposition", "-M", "decomposition.resamples=200")
    result = syco_cli(*args, "--out", "run", check=True)

    summary = json.loads((syco_cli.cwd / "run" / "summary.json").read_text(encoding="utf-8"))
    metric = summary["metrics"]["decomposition"]
    lines = result.stdout.splitlines()
    assert any(line.startswith("manipulation  ") for line in lines), result.stdout
    assert metric["manipulations"], "the installed manipulations plugin registers none"
    assert metric["cases"]["retained"] > 0, "the scripted scores retain no case, so no table"
    for entry in metric["manipulations"]:
        rows = [line for line in lines if line.split(" ", 1)[0] == entry["name"]]
        low, high = entry["flip_rate_interval"]
        assert len(rows) == 1, (entry["name"], result.stdout)
        assert f" {100 * entry['flip_rate']:.1f}% " in rows[0], rows[0]
        assert f"[{100 * low:.1f}, {100 * high:.1f}]" in rows[0], rows[0]
    assert any(line.startswith("Worst case: ") for line in lines), result.stdout
    assert "\x1b" not in result.stdout


def test_plugins_install_empty_name_rejected(syco_cli: SycoCli) -> None:
    result = syco_cli("plugins", "install", "", "--dry-run")
    assert result.returncode == 1
    assert "give either a plugin NAME or PATH" in result.stderr


def test_plugins_install_missing_path_rejected(syco_cli: SycoCli) -> None:
    result = syco_cli("plugins", "install", "./no/such/plugin", "--dry-run")
    assert result.returncode == 1
    assert "does not exist" in result.stderr
