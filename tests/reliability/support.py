"""Helpers shared by the reliability tests: reading run files and a local OpenAI server."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ..conftest import CliResult

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPTED = ("eval", "--backend", "scripted", "--dataset", "inline")
"""Start of a ``syco eval`` command on the scripted backend and the inline dataset."""

RUN_SPECIFIC = frozenset({"run_id"})
"""Summary fields that differ between two runs of the same configuration."""


def sorted_lines(path: Path) -> list[str]:
    """Return the lines of ``path``, sorted, so that two runs compare whatever their order."""
    return sorted(path.read_text(encoding="utf-8").splitlines())


def without_run_specific(value: Any) -> Any:
    """Return ``value`` with every key in :data:`RUN_SPECIFIC` removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_run_specific(v) for k, v in value.items() if k not in RUN_SPECIFIC}
    if isinstance(value, list):
        return [without_run_specific(v) for v in value]
    return value


def read_summary(run_dir: Path) -> Any:
    """Return ``summary.json`` of ``run_dir`` without its run-specific fields."""
    return without_run_specific(json.loads((run_dir / "summary.json").read_text("utf-8")))


def record_keys(path: Path) -> tuple[list[tuple[str, str, str]], bool]:
    """Parse ``records.jsonl`` and return the record keys and whether the last line is torn.

    Every complete line must be one JSON record. Only a last line without its
    newline may be cut short, because a crash during an append leaves one.
    """
    data = path.read_bytes() if path.exists() else b""
    complete_end = data.rfind(b"\n") + 1
    torn = complete_end < len(data)
    keys = []
    for number, line in enumerate(data[:complete_end].splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise AssertionError(f"{path}, line {number} does not parse: {error}") from None
        keys.append((record["case_id"], record["condition"], record["order"]))
    return keys, torn


def assert_one_line_error(result: CliResult) -> str:
    """Check ``result`` ended with exit status 1 and one ``Error:`` line; return that line."""
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    return errors[0]


def load_openai_test_server() -> ModuleType:
    """Import the scripted OpenAI-compatible server of the openai plugin's tests.

    That module is a conftest file outside any package, so it is loaded from its
    path under a name of its own.
    """
    name = "syco_reliability_openai_server"
    if name in sys.modules:
        return sys.modules[name]
    path = REPO_ROOT / "plugins" / "syco-plugin-openai" / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
