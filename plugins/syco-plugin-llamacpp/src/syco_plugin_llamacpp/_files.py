"""Model files and host facts: GGUF path resolution, file hashes, usable cores."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sycocore.errors import BackendError
from sycocore.models import DEFAULT_MODEL, ModelAlias, get_alias, model_aliases

GGUF_MAGIC = b"GGUF"

_HASHES: dict[tuple[str, int, int], str] = {}


def resolve_model(model: str | None) -> tuple[Path, ModelAlias | None]:
    """Return the GGUF path for ``model`` (alias, path or ``None``) and its alias, if any.

    Raise BackendError when the file is missing, is a directory or is not GGUF.
    """
    alias = get_alias(model or DEFAULT_MODEL)
    if alias is not None:
        path = alias.resolve()
    else:
        assert model is not None  # None always resolves to the default alias
        path = Path(model).expanduser()
    if not path.exists():
        aliases = ", ".join(sorted(model_aliases()))
        raise BackendError(
            f"model file {str(path)!r} does not exist; give the path of a GGUF file "
            f"or one of the aliases: {aliases}"
        )
    if not path.is_file():
        raise BackendError(f"model {str(path)!r} is a directory; give the path of a GGUF file")
    with path.open("rb") as handle:
        magic = handle.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise BackendError(
            f"model file {str(path)!r} is not a GGUF file (it does not start with {GGUF_MAGIC!r}); "
            "the llamacpp backend reads GGUF only: convert the model with llama.cpp's "
            "convert_hf_to_gguf.py, or score it with --backend hf"
        )
    return path.resolve(), alias


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, hashed once per process for each (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    digest = _HASHES.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        digest = hasher.hexdigest()
        _HASHES[key] = digest
    return digest


def usable_physical_cores() -> int:
    """Return the number of physical cores this process may run on.

    Hyper-threads of one core share its floating-point units, so llama.cpp
    runs fastest with one thread per physical core. Falls back to the number
    of usable logical CPUs, then to ``os.cpu_count()``, where the topology is
    not readable (outside Linux).
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(cpus) or os.cpu_count() or 1
        cores.add((package, core))
    return len(cores) or len(cpus) or 1
