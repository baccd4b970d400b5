"""``syco sweep`` in subprocesses: statuses, re-runs, kill -9 and failing models."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from ..conftest import SycoCli
from .conftest import SCRIPTED_SETTINGS, scripted_model, write_sweep

SLOW = {"delay": 0.1, "batch_size": 1}


def _state(sweep_dir: Path) -> dict[str, Any]:
    return json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))


def _statuses(sweep_dir: Path) -> dict[str, str]:
    return {model["name"]: model["status"] for model in _state(sweep_dir)["models"]}


def _sorted_lines(run_dir: Path) -> list[str]:
    return sorted((run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines())


def test_sweep_writes_one_run_per_model(syco_cli: SycoCli) -> None:
    write_sweep(
        syco_cli.cwd / "s.toml",
        SCRIPTED_SETTINGS,
        scripted_model("a-base"),
        scripted_model("a-it", regime="instruct", pair="a-base"),
    )
    result = syco_cli("sweep", "s.toml", "--out", "sweep", "--json", check=True)
    sweep_dir = syco_cli.cwd / "sweep"
    state = json.loads(result.stdout)
    assert state == _state(sweep_dir)
    assert _statuses(sweep_dir) == {"a-base": "done", "a-it": "done"}
    assert [model["scored"] for model in state["models"]] == [36, 36]
    manifest = json.loads((sweep_dir / "runs/a-it/manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["model_meta"]["pair"] == "a-base"
    assert manifest["config"]["model_meta"]["regime"] == "instruct"
    summary = json.loads((sweep_dir / "runs/a-it/summary.json").read_text(encoding="utf-8"))
    assert summary["complete"] is True
    assert "decomposition" in summary["metrics"]


def test_sweep_rerun_skips_finished_models(syco_cli: SycoCli) -> None:
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"))
    syco_cli("sweep", "s.toml", "--out", "sweep", check=True)
    records = syco_cli.cwd / "sweep/runs/a/records.jsonl"
    before = records.stat().st_mtime_ns
    result = syco_cli("sweep", "s.toml", "--out", "sweep", "--json", check=True)
    model = json.loads(result.stdout)["models"][0]
    assert model["status"] == "skipped"
    assert model["scored"] == 0
    assert records.stat().st_mtime_ns == before


def test_sweep_accepts_added_model(syco_cli: SycoCli) -> None:
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"))
    syco_cli("sweep", "s.toml", "--out", "sweep", check=True)
    write_sweep(
        syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"), scripted_model("b")
    )
    syco_cli("sweep", "s.toml", "--out", "sweep", check=True)
    assert _statuses(syco_cli.cwd / "sweep") == {"a": "skipped", "b": "done"}


def test_sweep_rejects_changed_settings(syco_cli: SycoCli) -> None:
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"))
    syco_cli("sweep", "s.toml", "--out", "sweep", check=True)
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS + "seed = 3\n", scripted_model("a"))
    result = syco_cli("sweep", "s.toml", "--out", "sweep")
    assert result.returncode == 1
    assert "other [sweep] settings (changed: seed)" in result.stderr
    assert "Traceback" not in result.stderr


def test_sweep_rejects_changed_model(syco_cli: SycoCli) -> None:
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"))
    syco_cli("sweep", "s.toml", "--out", "sweep", check=True)
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a", size_b=2.0))
    result = syco_cli("sweep", "s.toml", "--out", "sweep")
    assert result.returncode == 1
    assert "model 'a' differs from the entry its run" in result.stderr


def test_sweep_rejects_removed_model(syco_cli: SycoCli) -> None:
    write_sweep(
        syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"), scripted_model("b")
    )
    syco_cli("sweep", "s.toml", "--out", "sweep", check=True)
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"))
    result = syco_cli("sweep", "s.toml", "--out", "sweep")
    assert result.returncode == 1
    assert "contains model 'b', which sweep file" in result.stderr


def test_sweep_unknown_backend_exits_1(syco_cli: SycoCli) -> None:
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a", backend="scriptd"))
    result = syco_cli("sweep", "s.toml", "--out", "sweep")
    assert result.returncode == 1
    assert "[[model]] entry 1 ('a'): unknown backend 'scriptd'" in result.stderr
    assert not (syco_cli.cwd / "sweep").exists()


def test_sweep_address_needs_ray_executor(syco_cli: SycoCli) -> None:
    write_sweep(syco_cli.cwd / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"))
    result = syco_cli("sweep", "s.toml", "--address", "auto")
    assert result.returncode == 1
    assert "use it with --executor ray" in result.stderr


@pytest.mark.slow
def test_sweep_failing_model_spares_others(syco_cli: SycoCli, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    write_sweep(
        syco_cli.cwd / "s.toml",
        SCRIPTED_SETTINGS,
        scripted_model("first"),
        scripted_model("broken", backend="hf", model=str(missing), options={"device": "cpu"}),
        scripted_model("last"),
    )
    result = syco_cli("sweep", "s.toml", "--out", "sweep")
    assert result.returncode == 1
    assert _statuses(syco_cli.cwd / "sweep") == {
        "first": "done",
        "broken": "failed",
        "last": "done",
    }
    broken = _state(syco_cli.cwd / "sweep")["models"][1]
    assert str(missing) in broken["message"]
    assert "Failed models" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sweep_sigkill_resumes_second_model(syco_cli: SycoCli) -> None:
    write_sweep(
        syco_cli.cwd / "s.toml",
        SCRIPTED_SETTINGS,
        scripted_model("first"),
        scripted_model("second", options=SLOW),
    )
    sweep_dir = syco_cli.cwd / "sweep"
    second = sweep_dir / "runs/second/records.jsonl"
    process = syco_cli.popen("sweep", "s.toml", "--out", "sweep")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (second.exists() and second.stat().st_size):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    first = sweep_dir / "runs/first/records.jsonl"
    first_text, first_mtime = first.read_text(encoding="utf-8"), first.stat().st_mtime_ns
    partial = len(second.read_text(encoding="utf-8").splitlines())
    assert _statuses(sweep_dir) == {"first": "done", "second": "pending"}
    assert 0 < partial < 36

    result = syco_cli("sweep", "s.toml", "--out", "sweep", "--json", check=True)
    models = {model["name"]: model for model in json.loads(result.stdout)["models"]}
    assert models["first"]["status"] == "skipped"
    assert models["first"]["scored"] == 0
    assert first.read_text(encoding="utf-8") == first_text
    assert first.stat().st_mtime_ns == first_mtime
    assert models["second"]["status"] == "done"
    assert models["second"]["scored"] <= 36 - partial
    # The scripted backend scores a prompt the same whatever the model name,
    # so the resumed run must hold exactly the records of the first one.
    assert _sorted_lines(sweep_dir / "runs/second") == _sorted_lines(sweep_dir / "runs/first")
