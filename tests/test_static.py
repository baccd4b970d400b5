"""Lint, format and type checks, so CI fails on the same problems as a developer's run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_check_passes() -> None:
    result = _run("ruff", "check", "src", "tests", "plugins")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean() -> None:
    result = _run("ruff", "format", "--check", "src", "tests", "plugins")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_on_sources() -> None:
    sources = ["src", *(str(p / "src") for p in sorted((ROOT / "plugins").iterdir()))]
    result = _run("mypy", *sources)
    assert result.returncode == 0, result.stdout + result.stderr
