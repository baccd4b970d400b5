"""Reading dataset files: text, JSON Lines, JSON and CSV, with errors that name the line.

Every problem raises one :class:`~sycocore.errors.DatasetError` whose message
starts with ``<path>:<line>:`` when a line is known, names the field, and says
what was expected. Rows are numbered as in an editor: the first line is 1.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetError

__all__ = [
    "Row",
    "check_file",
    "describe_type",
    "is_number",
    "iter_csv",
    "iter_jsonl",
    "read_json",
    "read_text",
    "row_error",
]

Row = tuple[int, dict[str, Any]]
"""A line number and the row read from it."""


def row_error(path: Path, line: int | None, field: str | None, problem: str) -> DatasetError:
    """Build the error for one bad row: ``<path>:<line>: field 'x' <problem>``."""
    where = f"{path}:{line}" if line is not None else str(path)
    what = f"field {field!r} {problem}" if field is not None else problem
    return DatasetError(f"{where}: {what}")


def check_file(path: Path) -> None:
    """Raise a DatasetError unless ``path`` is an existing regular file."""
    if not path.exists():
        raise DatasetError(f"{path}: dataset file not found; check the path")
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory; pass the path of a dataset file")
    if not path.is_file():
        raise DatasetError(f"{path}: is not a regular file; pass the path of a dataset file")


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, dropping a leading byte order mark.

    Raises a DatasetError when the file is missing, unreadable, not UTF-8 (naming
    the line of the first bad byte) or empty.
    """
    check_file(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise DatasetError(f"{path}: cannot be read ({reason}); check its permissions") from None

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex()
        raise DatasetError(
            f"{path}:{line}: invalid UTF-8 (byte 0x{byte} at offset {error.start}); "
            "save the file as UTF-8"
        ) from None

    if not text.strip():
        raise DatasetError(f"{path}: file is empty; it must contain at least one item")
    return text


def iter_jsonl(path: Path) -> Iterator[Row]:
    """Yield ``(line, object)`` for each non-blank line of a JSON Lines file."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError) as error:
            message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            raise DatasetError(
                f"{path}:{number}: invalid JSON ({message}); each line must be one JSON object"
            ) from None
        if not isinstance(value, dict):
            raise DatasetError(f"{path}:{number}: expected a JSON object, got {_json_type(value)}")
        yield number, value


def read_json(path: Path) -> Any:
    """Parse a whole JSON file."""
    text = read_text(path)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    except ValueError as error:
        raise DatasetError(f"{path}: invalid JSON ({error})") from None


def iter_csv(path: Path, required: tuple[str, ...] = ()) -> Iterator[Row]:
    """Yield ``(line, row)`` for each data row of a CSV file with a header line.

    ``required`` columns must appear in the header. A row with more or fewer
    fields than the header is an error; blank lines are skipped.
    """
    reader = csv.reader(read_text(path).splitlines(keepends=True), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DatasetError(f"{path}: file is empty; it must have a header line") from None
    except csv.Error as error:
        raise DatasetError(f"{path}:1: invalid CSV header ({error})") from None

    header = [name.strip() for name in header]
    missing = [name for name in required if name not in header]
    if missing:
        raise DatasetError(
            f"{path}:1: CSV header lacks column(s) {', '.join(repr(m) for m in missing)}; "
            f"found {', '.join(repr(h) for h in header)}"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise DatasetError(f"{path}:1: CSV header repeats column(s) {duplicated}")

    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DatasetError(f"{path}:{start}: invalid CSV ({error})") from None
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != len(header):
            raise DatasetError(
                f"{path}:{start}: expected {len(header)} fields as in the header, "
                f"got {len(fields)}; quote fields that contain commas"
            )
        yield start, dict(zip(header, fields, strict=True))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def describe_type(value: Any) -> str:
    """Name the JSON type of ``value`` for messages, e.g. ``an array``."""
    return _json_type(value)


def is_number(value: Any) -> bool:
    """Return True for a finite int or float that is not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
