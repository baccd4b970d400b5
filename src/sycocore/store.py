"""The run directory: manifest, append-only records and summary.

Layout of a run directory::

    manifest.json    configuration, versions, model identity, dataset hash
    records.jsonl    one Record per line, appended and fsync'ed per batch
    summary.json     counts and metric results, rewritten at the end of a run
    generations.jsonl  free-form answers per question, when a metric asks for them
    .lock            locked by the process that writes the run

Crash safety rests on two rules. Records are appended whole lines at a time
and synced before the engine moves on, so after ``kill -9`` the file holds
every finished batch plus at most one torn last line, which :meth:`RunStore.open`
cuts off. Records are keyed by (case, condition, order), and a resumed run
scores only the keys that are missing, so nothing is lost or written twice.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from .errors import RunStoreError
from .metrics import RunData
from .schemas import Record, RunManifest, Summary

__all__ = ["RunStore", "read_run", "write_json_atomic"]

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
SUMMARY = "summary.json"
GENERATIONS = "generations.jsonl"
LOCK = ".lock"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename, so readers never
    see a half-written file."""
    text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp creates the file with mode 0600; give it the mode open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_manifest(run_dir: Path) -> RunManifest:
    path = run_dir / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunStoreError(
            f"{run_dir} is not a syco run directory: {MANIFEST} is missing"
        ) from None
    except OSError as error:
        raise RunStoreError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return RunManifest.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        problem = f"{where}: {first['msg']}" if where else first["msg"]
        raise RunStoreError(
            f"{path} is not a valid run manifest ({problem}); "
            "it was not written by this version of syco or was edited"
        ) from None


def _read_records(path: Path, repair: bool) -> list[Record]:
    """Read records; a torn last line is cut off (``repair``) or ignored."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise RunStoreError(f"cannot read {path}: {error.strerror or error}") from None
    complete_end = data.rfind(b"\n") + 1
    if complete_end < len(data) and repair:
        # A crash during an append leaves a partial line; its batch is re-scored.
        with path.open("r+b") as handle:
            handle.truncate(complete_end)
            handle.flush()
            os.fsync(handle.fileno())
    records: list[Record] = []
    seen: set[tuple[str, str, str]] = set()
    for number, line in enumerate(data[:complete_end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = Record.model_validate_json(line)
        except ValidationError:
            raise RunStoreError(
                f"{path}, line {number}: not a valid record; the file was edited or damaged. "
                "Delete that line (re-running the same command scores it again), or move the "
                "run directory away"
            ) from None
        if record.key in seen:
            raise RunStoreError(
                f"{path}, line {number}: duplicate record {record.key}; the file was edited "
                "or two runs wrote to it at once"
            )
        seen.add(record.key)
        records.append(record)
    return records


def read_run(run_dir: Path | str) -> RunData:
    """Read a run directory for metrics and reports; records are sorted by key."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunStoreError(f"run directory {run_dir} does not exist or is not a directory")
    manifest = _read_manifest(run_dir)
    records = sorted(_read_records(run_dir / RECORDS, repair=False), key=lambda r: r.key)
    return RunData(manifest=manifest, records=records, run_dir=run_dir)


class RunStore:
    """A run directory opened for writing."""

    def __init__(self, run_dir: Path, manifest: RunManifest, records: list[Record]) -> None:
        self.run_dir = run_dir
        self.manifest = manifest
        self._keys = {record.key for record in records}
        self._count = len(records)
        self._locks: list[IO[bytes]] = []
        self._release = weakref.finalize(self, _close_all, self._locks)

    @classmethod
    def open(cls, run_dir: Path, manifest: RunManifest, resume: bool = True) -> RunStore:
        """Create ``run_dir`` for ``manifest``, or reopen it to resume the same configuration.

        A directory that contains a run with another configuration is rejected with a
        message listing the differences. With ``resume=False`` an existing run is
        moved aside to ``<run_dir>.<run id>.bak`` and a new one starts. The
        directory stays locked against other processes until this process ends.
        """
        manifest_path = run_dir / MANIFEST
        if run_dir.exists() and not run_dir.is_dir():
            raise RunStoreError(f"--out {run_dir} exists and is not a directory")
        if (
            run_dir.is_dir()
            and not manifest_path.exists()
            and any(path.name != LOCK for path in run_dir.iterdir())
        ):
            raise RunStoreError(
                f"--out {run_dir} is not empty and contains no syco run; choose another directory"
            )
        lock = _lock_run_dir(run_dir)
        try:
            store = cls._open_locked(run_dir, manifest, resume)
        except BaseException:
            lock.close()
            raise
        store._hold(lock)
        return store

    @classmethod
    def _open_locked(cls, run_dir: Path, manifest: RunManifest, resume: bool) -> RunStore:
        manifest_path = run_dir / MANIFEST
        if manifest_path.exists():
            previous = _read_manifest(run_dir)
            if resume:
                _check_same_config(run_dir, previous, manifest)
                records = _read_records(run_dir / RECORDS, repair=True)
                resumed = previous.model_copy(
                    update={"versions": manifest.versions, "backend_info": manifest.backend_info}
                )
                write_json_atomic(manifest_path, resumed.model_dump(mode="json"))
                return cls(run_dir, resumed, records)
            backup = run_dir.with_name(f"{run_dir.name}.{previous.run_id}.bak")
            run_dir.rename(backup)
            # The new directory gets a lock of its own; the caller keeps the old one.
            lock = _lock_run_dir(run_dir)
            try:
                write_json_atomic(manifest_path, manifest.model_dump(mode="json"))
            except BaseException:
                lock.close()
                raise
            store = cls(run_dir, manifest, [])
            store._hold(lock)
            return store
        try:
            write_json_atomic(manifest_path, manifest.model_dump(mode="json"))
        except OSError as error:
            raise RunStoreError(
                f"cannot write the run directory {run_dir}: {error.strerror or error}"
            ) from None
        return cls(run_dir, manifest, [])

    def _hold(self, lock: IO[bytes]) -> None:
        self._locks.append(lock)

    def close(self) -> None:
        """Release the lock on the run directory; a store that is never closed releases it
        when it is garbage-collected or when the process ends."""
        self._release()

    @property
    def record_count(self) -> int:
        """Number of records in the file."""
        return self._count

    def has(self, key: tuple[str, str, str]) -> bool:
        """Return whether the record with ``key`` is already stored."""
        return key in self._keys

    def append(self, records: Iterable[Record]) -> int:
        """Append new records, skipping keys already stored, and sync to disk.

        Returns the number of records written.
        """
        fresh = [record for record in records if record.key not in self._keys]
        if not fresh:
            return 0
        text = "".join(record.model_dump_json() + "\n" for record in fresh)
        with (self.run_dir / RECORDS).open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self._keys.update(record.key for record in fresh)
        self._count += len(fresh)
        return len(fresh)

    def generated_items(self) -> dict[str, Any]:
        """Return, by item id, the sampling settings of the stored free-form samples.

        When an item has several lines, the last one counts, as it does for
        readers. A torn last line of ``generations.jsonl`` is cut off first, so
        its item is sampled again.
        """
        path = self.run_dir / GENERATIONS
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return {}
        complete_end = data.rfind(b"\n") + 1
        if complete_end < len(data):
            with path.open("r+b") as handle:
                handle.truncate(complete_end)
                os.fsync(handle.fileno())
        done: dict[str, Any] = {}
        for number, line in enumerate(data[:complete_end].splitlines(), start=1):
            try:
                entry = json.loads(line)
                done[str(entry["item_id"])] = entry.get("spec")
            except (ValueError, KeyError, TypeError):
                raise RunStoreError(
                    f"{path}, line {number}: not a valid generations line; delete that line "
                    "and re-run the same command to sample it again"
                ) from None
        return done

    def append_generation(self, entry: dict[str, Any]) -> None:
        """Append one question's free-form samples to ``generations.jsonl`` and sync."""
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with (self.run_dir / GENERATIONS).open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> RunData:
        """Return the run's manifest and every record, sorted by key."""
        return read_run(self.run_dir)

    def write_summary(self, summary: Summary) -> Path:
        """Write ``summary.json`` and return its path."""
        path = self.run_dir / SUMMARY
        write_json_atomic(path, summary.model_dump(mode="json"))
        return path


def _close_all(handles: list[IO[bytes]]) -> None:
    while handles:
        handles.pop().close()


def _lock_run_dir(run_dir: Path) -> IO[bytes]:
    """Create ``run_dir`` and take an exclusive lock on its lock file, or raise when taken.

    Two processes appending to one records file would write records twice. The
    POSIX record lock is released by the kernel when the process ends, even after
    ``kill -9``, so no stale lock survives a crash, and the same process may take
    it again.
    """
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = (run_dir / LOCK).open("ab")
    except OSError as error:
        raise RunStoreError(
            f"cannot write the run directory {run_dir}: {error.strerror or error}"
        ) from None
    if fcntl is None:
        # NOTE: without fcntl (Windows) two processes can write one run directory at once.
        return handle
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RunStoreError(
            f"{run_dir} is in use by another syco process; wait for it to finish, "
            "or choose another --out"
        ) from None
    return handle


def _check_same_config(run_dir: Path, previous: RunManifest, current: RunManifest) -> None:
    differences = _differences("", previous.config, current.config)
    if previous.model.fingerprint() != current.model.fingerprint():
        old_model = previous.model.model_dump(mode="json")
        new_model = current.model.model_dump(mode="json")
        differences += _differences("model identity", old_model, new_model) or [
            f"model identity: {_short(old_model)} in the run, {_short(new_model)} now"
        ]
    if differences:
        raise RunStoreError(
            f"{run_dir} holds a run with another configuration ({'; '.join(differences)}). "
            "Re-run with the original options, choose another --out, or pass --no-resume "
            "to move the old run aside"
        )


def _differences(path: str, old: Any, new: Any) -> list[str]:
    """List the values that differ, by dotted path, so a long nested value is never cut
    off before the part that changed."""
    if isinstance(old, dict) and isinstance(new, dict):
        differences = []
        for key in sorted(set(old) | set(new)):
            differences += _differences(
                f"{path}.{key}" if path else key, old.get(key), new.get(key)
            )
        return differences
    if old != new:
        return [f"{path}: {_short(old)} in the run, {_short(new)} now"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."
