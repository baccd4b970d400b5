"""The local and Ray executors on tiny random hf models and the scripted backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import SycoCli
from .conftest import scripted_model, write_sweep

SETTINGS = """\
[sweep]
name = "tiny"
dataset = "countries"
question_format = "cloze"
limit = 2
baits = 1
manipulations = "very_sure,user_phd"
metrics = ["decomposition"]
cache = false
metric_options = {decomposition = {resamples = 50}}
"""


def _models(tiny_models: dict[str, Path]) -> list[str]:
    return [
        scripted_model(
            "tiny-base",
            backend="hf",
            model=str(tiny_models["base"]),
            family="tiny",
            size_b=0.001,
            options={"device": "cpu", "threads": 1},
        ),
        scripted_model(
            "tiny-tuned",
            backend="hf",
            model=str(tiny_models["tuned"]),
            family="tiny",
            size_b=0.001,
            regime="instruct",
            pair="tiny-base",
            options={"device": "cpu", "threads": 1},
        ),
        scripted_model("scripted", size_b=0.002),
    ]


def _sorted_lines(run_dir: Path) -> list[str]:
    return sorted((run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines())


@pytest.mark.slow
def test_local_and_ray_same_records(syco_cli: SycoCli, tiny_models: dict[str, Path]) -> None:
    models = _models(tiny_models)
    write_sweep(syco_cli.cwd / "local.toml", SETTINGS, *models)
    gpu = scripted_model("needs-gpu", resources={"num_gpus": 1})
    write_sweep(syco_cli.cwd / "ray.toml", SETTINGS, *models, gpu)

    syco_cli("sweep", "local.toml", "--out", "local", check=True, timeout=300)
    result = syco_cli(
        "sweep", "ray.toml", "--out", "ray", "--executor", "ray", "--json", timeout=300
    )

    assert result.returncode == 1, result.stderr
    state = {model["name"]: model for model in json.loads(result.stdout)["models"]}
    assert state["needs-gpu"]["status"] == "failed"
    assert "needs 1 GPUs but the Ray cluster has 0" in state["needs-gpu"]["message"]
    for name in ("tiny-base", "tiny-tuned", "scripted"):
        assert state[name]["status"] == "done", state[name]["message"]
        local_lines = _sorted_lines(syco_cli.cwd / "local/runs" / name)
        assert len(local_lines) == 2 * 3 * 1
        assert _sorted_lines(syco_cli.cwd / "ray/runs" / name) == local_lines
    tuned = _sorted_lines(syco_cli.cwd / "local/runs/tiny-tuned")
    assert tuned != _sorted_lines(syco_cli.cwd / "local/runs/tiny-base")
