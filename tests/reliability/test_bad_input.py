"""Bad input through the real CLI: exit status 1, one clear line, nothing stored is lost.

Every case runs ``syco`` in a subprocess. A case that writes to a run
directory gets a copy of a finished run there first, and its records must be
byte for byte the same afterwards.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import SycoCli, install_dist_info
from .support import SCRIPTED, assert_one_line_error, record_keys

BASE = (*SCRIPTED, "--metrics", "none", "--manipulations", "none")
"""A quick run: 6 cases x 2 orders under the neutral prompt only."""

BASE_RUN = (*BASE, "--out", "run")


def _write(name: str, text: str) -> Callable[[Path], None]:
    def prepare(work: Path) -> None:
        (work / name).write_text(textwrap.dedent(text), encoding="utf-8")

    return prepare


def _write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def prepare(work: Path) -> None:
        (work / name).write_bytes(data)

    return prepare


def _damage_record_line(work: Path) -> None:
    path = work / "run" / "records.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = '{"case_id": "capital:FRA/lyon", "condition": tru\n'
    path.write_text("".join(lines), encoding="utf-8")


def _duplicate_record_line(work: Path) -> None:
    path = work / "run" / "records.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join([*lines[:5], lines[2], *lines[5:]]), encoding="utf-8")


def _break_manifest(work: Path) -> None:
    (work / "run" / "manifest.json").write_text("{not json", encoding="utf-8")


def _empty_manifest_object(work: Path) -> None:
    (work / "run" / "manifest.json").write_text("{}\n", encoding="utf-8")


def _corrupt_cache(work: Path) -> None:
    cache = work / "cache"
    cache.mkdir(exist_ok=True)
    (cache / "scores.sqlite3").write_bytes(b"this is not a database " * 200)


def _file_as_out(work: Path) -> None:
    (work / "taken").write_text("a file, not a run directory\n", encoding="utf-8")


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments after ``syco``, and what the error line must contain."""

    name: str
    args: tuple[str, ...]
    expected: tuple[str, ...]
    prepare: Callable[[Path], None] | None = None
    slow: bool = False
    uses_cache: bool = False
    """Point SYCO_CACHE_DIR at ``work/cache``, which ``prepare`` fills."""


GOOD_ROW = '{"question": "Capital of Peru?", "answer": "Lima", "baits": ["Cusco"]}\n'

CASES = [
    # Datasets: broken rows, wrong types, empty files, bad paths.
    Case(
        "jsonl broken line",
        (*BASE_RUN, "--dataset", "rows.jsonl"),
        ("rows.jsonl:2", "invalid JSON", "one JSON object"),
        _write("rows.jsonl", GOOD_ROW + '{"question": "broken\n'),
    ),
    Case(
        "jsonl answer is number",
        (*BASE_RUN, "--dataset", "rows.jsonl"),
        ("rows.jsonl:1", "field 'answer' must be a string, got a number"),
        _write("rows.jsonl", '{"question": "2 + 2?", "answer": 4, "baits": ["5"]}\n'),
    ),
    Case(
        "jsonl baits is string",
        (*BASE_RUN, "--dataset", "rows.jsonl"),
        ("rows.jsonl:2", "'baits'"),
        _write("rows.jsonl", GOOD_ROW + '{"question": "Q?", "answer": "A", "baits": 7}\n'),
    ),
    Case(
        "jsonl row not object",
        (*BASE_RUN, "--dataset", "rows.jsonl"),
        ("rows.jsonl:2",),
        _write("rows.jsonl", GOOD_ROW + '["a list"]\n'),
    ),
    Case(
        "jsonl missing question",
        (*BASE_RUN, "--dataset", "rows.jsonl"),
        ("rows.jsonl:1", "'question'"),
        _write("rows.jsonl", '{"answer": "Lima", "baits": ["Cusco"]}\n'),
    ),
    Case(
        "empty jsonl file",
        (*BASE_RUN, "--dataset", "empty.jsonl"),
        ("empty.jsonl: file is empty", "at least one item"),
        _write("empty.jsonl", ""),
    ),
    Case(
        "empty csv file",
        (*BASE_RUN, "--dataset", "empty.csv"),
        ("empty.csv: file is empty",),
        _write("empty.csv", ""),
    ),
    Case(
        "csv without answer column",
        (*BASE_RUN, "--dataset", "rows.csv"),
        ("rows.csv", "answer"),
        _write("rows.csv", "question,baits\nCapital of Peru?,Cusco\n"),
    ),
    Case(
        "json not an array",
        (*BASE_RUN, "--dataset", "rows.json"),
        ("rows.json", "expected a JSON array of objects"),
        _write("rows.json", '{"question": "Q?"}\n'),
    ),
    Case(
        "dataset not utf-8",
        (*BASE_RUN, "--dataset", "latin.jsonl"),
        ("latin.jsonl:1", "invalid UTF-8", "save the file as UTF-8"),
        _write_bytes("latin.jsonl", b'{"question": "Capital of Fran\xe7e?"}\n'),
    ),
    Case(
        "dataset path is directory",
        (*BASE_RUN, "--dataset", "file", "--dataset-path", "folder"),
        ("folder: is a directory", "pass the path of a dataset file"),
        lambda work: (work / "folder").mkdir(),
    ),
    Case(
        "dataset file missing",
        (*BASE_RUN, "--dataset", "missing.jsonl"),
        ("missing.jsonl: dataset file not found",),
    ),
    # Unknown names.
    Case(
        "unknown backend",
        (*BASE_RUN, "--backend", "scriptd"),
        ("unknown backend 'scriptd'", "did you mean 'scripted'?"),
    ),
    Case(
        "unknown manipulation",
        (*SCRIPTED, "--metrics", "none", "--manipulations", "expert", "--out", "run"),
        ("unknown manipulation or family 'expert'", "did you mean 'experts'"),
    ),
    Case(
        "unknown dataset",
        (*BASE_RUN, "--dataset", "contries"),
        ("unknown dataset 'contries'", "did you mean 'countries'?"),
    ),
    Case(
        "unknown metric",
        (*SCRIPTED, "--manipulations", "none", "--metrics", "decompose", "--out", "run"),
        ("unknown metric 'decompose'", "did you mean 'decomposition'?"),
    ),
    Case(
        "unknown question format",
        (*BASE_RUN, "--question-format", "multiple-choice"),
        ("unknown question format 'multiple-choice'", "cloze, two-option"),
    ),
    # Invalid option values.
    Case(
        "backend option unknown key",
        (*BASE_RUN, "-B", "temperature=0"),
        ("'temperature' is not an option", "options: batch_size, delay"),
    ),
    Case(
        "backend option not key value",
        (*BASE_RUN, "-B", "delay"),
        ("-B 'delay' is not KEY=VALUE",),
    ),
    Case(
        "batch size zero",
        (*BASE_RUN, "-B", "batch_size=0"),
        ("batch_size='0'", "greater than or equal to 1"),
    ),
    Case(
        "dataset option unknown key",
        (*BASE_RUN, "-D", "split=test"),
        ("invalid options for dataset 'inline'", "'split' is not an option"),
    ),
    Case(
        "dataset option bad value",
        (*BASE_RUN, "--dataset", "countries", "-D", "baits_per_item=0"),
        ("invalid options for dataset 'countries'", "baits_per_item='0'"),
    ),
    Case(
        "metric option unknown key",
        (*SCRIPTED, "--manipulations", "none", "-M", "decomposition.samples=10", "--out", "run"),
        ("invalid options for metric 'decomposition'", "'samples' is not an option", "resamples"),
    ),
    Case(
        "metric option bad value",
        (*SCRIPTED, "--manipulations", "none", "-M", "decomposition.resamples=-1", "--out", "run"),
        ("resamples='-1'", "greater than or equal to 0"),
    ),
    Case(
        "metric option for other metric",
        (*BASE_RUN, "-M", "decomposition.resamples=10"),
        ("options given for metric(s) ['decomposition']", "does not compute"),
    ),
    Case(
        "limit zero",
        (*BASE_RUN, "--limit", "0"),
        ("--limit must be at least 1 or 'all', got 0",),
    ),
    Case(
        "limit not number",
        (*BASE_RUN, "--limit", "ten"),
        ("--limit 'ten' is not a number or 'all'",),
    ),
    Case(
        "baits zero",
        (*BASE_RUN, "--baits", "0"),
        ("--baits must be at least 1, got 0",),
    ),
    Case(
        "baits negative",
        (*BASE_RUN, "--baits", "-2"),
        ("--baits must be at least 1, got -2",),
    ),
    # Model files.
    Case(
        "llamacpp missing model file",
        (*BASE_RUN, "--backend", "llamacpp", "--model", "/nonexistent.gguf"),
        ("'/nonexistent.gguf' does not exist", "give the path of a GGUF file"),
    ),
    Case(
        "llamacpp model not gguf",
        (*BASE_RUN, "--backend", "llamacpp", "--model", "fake.gguf"),
        ("'fake.gguf' is not a GGUF file", "--backend hf"),
        _write("fake.gguf", "this is text, not weights\n"),
    ),
    Case(
        "hf missing model file",
        (*BASE_RUN, "--backend", "hf", "--model", "/nonexistent.gguf"),
        ("'/nonexistent.gguf' not found", "pass an existing GGUF file"),
        slow=True,
    ),
    Case(
        "hf model not gguf",
        (*BASE_RUN, "--backend", "hf", "--model", "fake.gguf", "--device", "cpu"),
        ("fake.gguf", "not a GGUF file"),
        _write("fake.gguf", "this is text, not weights\n"),
        slow=True,
    ),
    # Run directories.
    Case(
        "out is a file",
        (*BASE, "--out", "taken"),
        ("--out taken exists and is not a directory",),
        _file_as_out,
    ),
    Case(
        "out below a file",
        (*BASE, "--out", "taken/run"),
        ("cannot write the run directory taken/run", "Not a directory"),
        _file_as_out,
    ),
    Case(
        "manifest not json",
        BASE_RUN,
        ("run/manifest.json is not a valid run manifest", "Invalid JSON"),
        _break_manifest,
    ),
    Case(
        "manifest missing fields",
        BASE_RUN,
        ("run/manifest.json is not a valid run manifest", "run_id"),
        _empty_manifest_object,
    ),
    Case(
        "records corrupt middle line",
        BASE_RUN,
        ("run/records.jsonl, line 4: not a valid record", "Delete that line"),
        _damage_record_line,
    ),
    Case(
        "records duplicate line",
        BASE_RUN,
        ("run/records.jsonl, line 6: duplicate record",),
        _duplicate_record_line,
    ),
    Case(
        "report of corrupt run",
        ("report", "run"),
        ("run/records.jsonl, line 4: not a valid record",),
        _damage_record_line,
    ),
    # The score cache.
    Case(
        "cache not a database",
        BASE_RUN,
        ("scores.sqlite3 cannot be used", "file is not a database", "--no-cache"),
        _corrupt_cache,
        uses_cache=True,
    ),
    # A server that is down.
    Case(
        "openai server down",
        (
            *BASE_RUN,
            "--backend",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "x",
            "-B",
            "max_retries=0",
        ),
        ("cannot connect to http://127.0.0.1:9/v1/models", "check that the server is running"),
    ),
    Case(
        "openai without base url",
        (*BASE_RUN, "--backend", "openai", "--model", "x"),
        ("needs the server's base URL", "--base-url"),
    ),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of :data:`BASE`, copied into each case that writes to a run directory."""
    root = tmp_path_factory.mktemp("finished")
    site = root / "site"
    install_dist_info(site, "syco-test-plugin", {"testing": "sycocore.testing.plugin"})
    env = dict(os.environ, PYTHONPATH=str(site), SYCO_CACHE_DIR=str(root / "cache"))
    env.pop("SYCO_LOAD_PLUGINS", None)
    env.pop("SYCO_DISABLE_PLUGINS", None)
    SycoCli(site, env, root)(*BASE, "--out", "run", check=True)
    return root / "run"


def _params() -> list[object]:
    marks = {True: [pytest.mark.slow], False: []}
    return [pytest.param(case, id=case.name, marks=marks[case.slow]) for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_bad_input_exits_1_keeps_records(syco_cli: SycoCli, finished_run: Path, case: Case) -> None:
    work = syco_cli.cwd
    shutil.copytree(finished_run, work / "run")
    syco_cli.env.pop("OPENAI_BASE_URL", None)
    if case.uses_cache:
        syco_cli.env["SYCO_CACHE_DIR"] = str(work / "cache")
    if case.prepare is not None:
        case.prepare(work)
    before = (work / "run" / "records.jsonl").read_bytes()

    result = syco_cli(*case.args, timeout=300)

    line = assert_one_line_error(result)
    for expected in case.expected:
        assert expected in line, line
    assert (work / "run" / "records.jsonl").read_bytes() == before


def test_catalogue_has_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.slow
def test_scoring_failure_keeps_records(syco_cli: SycoCli) -> None:
    run = (*SCRIPTED, "--metrics", "none", "--out", "run", "--batch-size", "4")
    records = syco_cli.cwd / "run" / "records.jsonl"

    result = syco_cli(*run, "-B", "fail_after=10")

    line = assert_one_line_error(result)
    assert "backend 'scripted' failed while scoring: RuntimeError: scripted failure" in line
    assert "re-run the same command to resume" in line
    kept, torn = record_keys(records)
    assert len(kept) == 8
    assert not torn

    syco_cli(*run, check=True)
    final, _ = record_keys(records)
    assert final[:8] == kept
    assert len(final) == len(set(final))
    assert len(final) > 8


def test_bad_flag_type_is_usage_error(syco_cli: SycoCli) -> None:
    result = syco_cli(*BASE_RUN, "--baits", "two")

    assert result.returncode == 2
    assert "Invalid value for '--baits'" in result.stderr
    assert "Traceback" not in result.stderr
