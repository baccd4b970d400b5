"""Fixtures for sweep tests: tiny random Llama models and sweep files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from sycocore.testing.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny random models, standing in for a base model and its tuned version."""
    return {
        "base": build_tiny_model(tmp_path_factory.mktemp("tiny-base"), seed=1),
        "tuned": build_tiny_model(tmp_path_factory.mktemp("tiny-tuned"), seed=2),
    }


SCRIPTED_SETTINGS = """\
[sweep]
name = "scripted"
dataset = "inline"
question_format = "two-option"
manipulations = "very_sure,user_phd"
metrics = ["decomposition"]
cache = false
metric_options = {decomposition = {resamples = 50}}
"""


def scripted_model(name: str, **fields: object) -> str:
    """Return a ``[[model]]`` table for the scripted backend with test metadata."""
    values: dict[str, object] = {
        "name": name,
        "backend": "scripted",
        "model": name,
        "family": "toy",
        "size_b": 1.0,
        "regime": "base",
    }
    values.update(fields)
    lines = ["[[model]]"]
    for key, value in values.items():
        if isinstance(value, dict):
            inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{{inline}}}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def write_sweep(path: Path, settings: str, *models: str) -> Path:
    """Write a sweep file from a ``[sweep]`` table and ``[[model]]`` tables."""
    path.write_text(textwrap.dedent(settings) + "\n" + "\n".join(models), encoding="utf-8")
    return path
