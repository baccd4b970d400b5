"""Content-addressed score cache in SQLite.

A score is stored under the SHA-256 of the model identity (backend, model,
weights hash, chat template hash, prompt format, dtype, ...) and the request
(conversation, candidates, readout). An identical request for the same model
is then free in any later run. API keys are never part of a key or a value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from .errors import CacheError
from .schemas import ModelIdentity, Score, ScoreRequest, sha256_hex

__all__ = ["ScoreCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY,
    score TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


class ScoreCache:
    """Scores of one model, keyed by request."""

    def __init__(self, path: Path, identity: ModelIdentity) -> None:
        self.path = path
        self._model = identity.fingerprint()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(path, timeout=30.0)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(_SCHEMA)
            self._connection.commit()
        except (sqlite3.DatabaseError, OSError) as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> CacheError:
        return CacheError(
            f"the score cache {self.path} cannot be used ({error}); delete the file, set "
            "SYCO_CACHE_DIR to another directory, or pass --no-cache"
        )

    def _key(self, request: ScoreRequest) -> str:
        return sha256_hex(f"{self._model}:{request.key}")

    def get_many(self, requests: Sequence[ScoreRequest]) -> dict[str, Score]:
        """Return cached scores by request key, for the requests that have one."""
        keys = {self._key(request): request.key for request in requests}
        found: dict[str, Score] = {}
        items = list(keys)
        try:
            for start in range(0, len(items), 500):
                chunk = items[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    f"SELECT key, score FROM scores WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, text in rows:
                    found[keys[key]] = Score.model_validate_json(text)
        except sqlite3.DatabaseError as error:
            raise self._error(error) from None
        except ValidationError:
            raise self._error(ValueError("an entry does not parse as a score")) from None
        return found

    def put_many(self, pairs: Iterable[tuple[ScoreRequest, Score]]) -> None:
        """Store scores; an existing entry is kept."""
        rows = [(self._key(request), score.model_dump_json()) for request, score in pairs]
        try:
            self._connection.executemany(
                "INSERT OR IGNORE INTO scores (key, score) VALUES (?, ?)", rows
            )
            self._connection.commit()
        except sqlite3.DatabaseError as error:
            raise self._error(error) from None

    def close(self) -> None:
        """Close the database connection."""
        self._connection.close()
