"""An API key never reaches run files, the score cache, the console or DEBUG logs.

``syco eval`` runs the openai backend against a scripted OpenAI-compatible
server on 127.0.0.1, with the key given by ``--api-key`` or by
``OPENAI_API_KEY``, logging at DEBUG. Then every file under the run
directory and the cache directory, and everything printed, is searched for
the key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import CliResult, SycoCli
from .support import load_openai_test_server

CHAT_PATH = "/v1/chat/completions"


@pytest.fixture
def openai_server() -> Iterator[Any]:
    """The openai plugin's scripted server: a toy model that returns top log-probabilities."""
    server = load_openai_test_server().ScriptedServer()
    yield server
    server.close()


def _eval(syco_cli: SycoCli, server: Any, *extra: str) -> CliResult:
    return syco_cli(
        "--log-level", "DEBUG", "eval",
        "--backend", "openai", "--base-url", server.url, "--model", "toy",
        "-B", "canary=false", "-B", "retry_backoff=0.01",
        "--dataset", "inline", "--manipulations", "belief",
        "--metrics", "decomposition", "-M", "decomposition.resamples=50",
        "--out", "run", *extra,
    )  # fmt: skip


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def _assert_key_nowhere(syco_cli: SycoCli, result: CliResult, key: str) -> None:
    run_dir = syco_cli.cwd / "run"
    cache_dir = Path(syco_cli.env["SYCO_CACHE_DIR"])
    written = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    assert {"manifest.json", "records.jsonl", "summary.json", "report.md"} <= set(written)
    assert (cache_dir / "scores.sqlite3").is_file()
    # The DEBUG log must really be on: the plugin manager logs each plugin it loads.
    assert "plugin openai loaded" in result.stderr

    needle = key.encode()
    assert _files_containing(run_dir, needle) == []
    assert _files_containing(cache_dir, needle) == []
    assert key not in result.stdout
    assert key not in result.stderr
    assert key[:16] not in result.stderr


@pytest.mark.slow
def test_api_key_option_never_written(syco_cli: SycoCli, openai_server: Any) -> None:
    key = f"sk-reliability-{secrets.token_hex(12)}"
    # The server quotes the bearer token in two error bodies, as careless servers do.
    # The retry warnings show those bodies, so they must show them without the key.
    openai_server.push(
        CHAT_PATH,
        {"status": 503, "body": '{"error": {"message": "overloaded for key {token}"}}'},
        {"status": 500, "body": '{"error": {"message": "invalid key {token}"}}'},
    )

    result = _eval(syco_cli, openai_server, "--api-key", key)

    assert result.returncode == 0, result.stderr[-3000:]
    assert openai_server.seen[-1].authorization == f"Bearer {key}"
    assert "retry" in result.stderr
    _assert_key_nowhere(syco_cli, result, key)


@pytest.mark.slow
def test_api_key_env_never_written(syco_cli: SycoCli, openai_server: Any) -> None:
    key = f"sk-reliability-{secrets.token_hex(12)}"
    syco_cli.env["OPENAI_API_KEY"] = key

    result = _eval(syco_cli, openai_server)

    assert result.returncode == 0, result.stderr[-3000:]
    assert openai_server.seen[-1].authorization == f"Bearer {key}"
    _assert_key_nowhere(syco_cli, result, key)


@pytest.mark.slow
def test_api_key_absent_from_failure_message(syco_cli: SycoCli, openai_server: Any) -> None:
    key = f"sk-reliability-{secrets.token_hex(12)}"
    body = '{"error": {"message": "key {token} is not valid"}}'
    openai_server.push("/v1/models", {"status": 401, "body": body})

    result = _eval(syco_cli, openai_server, "--api-key", key)

    assert result.returncode == 1
    assert "401" in result.stderr
    assert key not in result.stderr
    assert key not in result.stdout
    assert "Traceback" not in result.stderr
