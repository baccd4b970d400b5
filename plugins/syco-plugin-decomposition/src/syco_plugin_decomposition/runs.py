"""Reading run directories written by ``syco eval``, and other JSON Lines files.

Runs are read by :func:`sycocore.store.read_run`. This module adds the checks
that a run to analyse must pass: the directory exists and contains both
``manifest.json`` and ``records.jsonl``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sycocore.errors import RunStoreError
from sycocore.metrics import RunData
from sycocore.store import MANIFEST, RECORDS
from sycocore.store import read_run as read_stored_run

__all__ = ["read_jsonl", "read_run"]

logger = logging.getLogger(__name__)


def read_run(run_dir: Path) -> RunData:
    """Read the manifest and records of ``run_dir``, sorted by (case, condition, order).

    Raises :class:`~sycocore.errors.RunStoreError` when the directory or one of
    its two files is missing or malformed. A torn last line of
    ``records.jsonl``, left by an interrupted run, is ignored.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunStoreError(f"run directory {str(run_dir)!r} not found; pass the --out of a run")
    for name in (MANIFEST, RECORDS):
        if not (run_dir / name).is_file():
            raise RunStoreError(
                f"{str(run_dir / name)!r} not found: {str(run_dir)!r} is not a complete run "
                "directory"
            )
    return read_stored_run(run_dir)


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """Return ``(line number, parsed value)`` for each non-empty line of ``path``.

    A last line that is not valid JSON is skipped with a warning, because an
    interrupted writer leaves one. Invalid JSON on any other line raises
    :class:`~sycocore.errors.RunStoreError`.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    values: list[tuple[int, Any]] = []
    for position, (number, line) in enumerate(numbered):
        try:
            values.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            if position == len(numbered) - 1:
                logger.warning("%s: skipped truncated last line %d (%s)", path, number, error.msg)
                continue
            raise RunStoreError(
                f"{str(path)!r} line {number} is not valid JSON ({error.msg}); "
                "only a truncated last line can be skipped"
            ) from None
    return values
