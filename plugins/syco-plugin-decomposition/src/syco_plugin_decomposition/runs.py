"""Reading run directories written by ``syco eval``.

A run directory holds ``manifest.json`` (a :class:`~sycocore.schemas.RunManifest`)
and ``records.jsonl`` (one :class:`~sycocore.schemas.Record` per line). The
records file is append-only, so a crash can leave a truncated last line; that
line is skipped, while a bad line anywhere else is an error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sycocore.errors import RunStoreError
from sycocore.metrics import RunData
from sycocore.schemas import Record, RunManifest

__all__ = ["read_jsonl", "read_run"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"


def read_run(run_dir: Path) -> RunData:
    """Read the manifest and records of ``run_dir``.

    Raises :class:`~sycocore.errors.RunStoreError` when the directory or a file
    is missing or malformed. Records come back sorted by (case id, condition,
    order); when a key occurs twice, the later line wins.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunStoreError(f"run directory {str(run_dir)!r} not found; pass the --out of a run")
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise RunStoreError(
            f"{str(manifest_path)!r} not found: {str(run_dir)!r} is not a run directory"
        )
    try:
        manifest = RunManifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise RunStoreError(
            f"{str(manifest_path)!r} is not a valid run manifest: {field}: {first['msg']}"
        ) from None

    records_path = run_dir / RECORDS
    if not records_path.is_file():
        raise RunStoreError(f"{str(records_path)!r} not found: the run has no scored records")
    by_key: dict[tuple[str, str, str], Record] = {}
    for line_number, payload in read_jsonl(records_path):
        try:
            record = Record.model_validate(payload)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(record)"
            raise RunStoreError(
                f"{str(records_path)!r} line {line_number} is not a valid record: "
                f"{field}: {first['msg']}"
            ) from None
        by_key[record.key] = record
    records = [by_key[key] for key in sorted(by_key)]
    return RunData(manifest=manifest, records=records, run_dir=run_dir)


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """Return ``(line number, parsed value)`` for each non-empty line of ``path``.

    A last line that is not valid JSON is skipped with a warning, because an
    interrupted writer leaves one; invalid JSON on any other line raises
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
