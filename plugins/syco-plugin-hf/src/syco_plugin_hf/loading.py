"""Find and load the model and tokenizer that the options name.

A model is given as an alias of a packaged model, a GGUF file, a local folder
or a Hugging Face Hub id, tried in that order. Every form goes through
``from_pretrained``; GGUF weights are dequantised by transformers.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sycocore.errors import BackendError, ConfigError, MissingDependencyError
from sycocore.models import DEFAULT_MODEL, ModelAlias, get_alias, model_aliases
from sycocore.paths import cache_dir

from .options import HFOptions

__all__ = [
    "LoadedModel",
    "ModelSource",
    "file_sha256",
    "load_model",
    "resolve_device",
    "resolve_dtype",
    "resolve_source",
]

TORCH_INSTALL = "pip install torch==2.13.0 transformers"
GGUF_INSTALL = "pip install gguf accelerate"

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


@dataclass(frozen=True)
class ModelSource:
    """Location of the weights, as resolved from the options."""

    label: str
    """Model name recorded in the run: the alias, the path or the hub id."""
    location: str
    """First argument of ``from_pretrained``: a folder or a hub id."""
    gguf_file: str | None
    """GGUF file name inside ``location``, or ``None``."""
    local: bool
    """True for a file or folder on disk, false for a hub id."""
    alias: ModelAlias | None = None
    """The alias the model was named by, if any."""

    def weight_files(self) -> list[Path]:
        """Return the local weight files, sorted; empty for a hub id."""
        if not self.local:
            return []
        folder = Path(self.location)
        if self.gguf_file is not None:
            return [folder / self.gguf_file]
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)


@dataclass
class LoadedModel:
    """A model and its tokenizer, ready to score."""

    source: ModelSource
    model: Any
    """The ``PreTrainedModel``, in eval mode, on ``device``."""
    tokenizer: Any
    """The matching tokenizer."""
    device: Any
    """The ``torch.device`` the model runs on."""
    dtype: Any
    """The ``torch.dtype`` of the weights."""


def resolve_source(options: HFOptions) -> ModelSource:
    """Turn ``options.model`` into a :class:`ModelSource`, or raise naming the value."""
    name = options.model or DEFAULT_MODEL
    alias = get_alias(name)
    if alias is not None:
        path = alias.resolve()
        return ModelSource(name.lower(), str(path.parent), path.name, local=True, alias=alias)

    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ConfigError(
                f"model {name!r} is a file but not a .gguf file; "
                "pass a GGUF file, a model folder, a hub id or an alias"
            )
        return ModelSource(str(path.resolve()), str(path.resolve().parent), path.name, local=True)
    if path.is_dir():
        folder = path.resolve()
        if options.gguf_file is not None and not (folder / options.gguf_file).is_file():
            raise ConfigError(f"gguf_file {options.gguf_file!r} not found in the folder {name!r}")
        return ModelSource(str(folder), str(folder), options.gguf_file, local=True)

    looks_like_path = name.startswith((".", "/", "~")) or name.lower().endswith(".gguf")
    if looks_like_path or not _HUB_ID.match(name):
        aliases = ", ".join(sorted(model_aliases()))
        raise BackendError(
            f"model path {name!r} not found; pass an existing GGUF file or model folder, "
            f"a hub id, or an alias ({aliases})"
        )
    return ModelSource(name, name, options.gguf_file, local=False)


def resolve_device(requested: str) -> Any:
    """Return the ``torch.device`` for ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r} is not available: torch finds no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {requested!r} is not available on this machine")
    return device


def resolve_dtype(requested: str, device: Any) -> Any:
    """Return the ``torch.dtype``: ``auto`` is bfloat16 on CUDA and float32 elsewhere."""
    import torch

    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtype: Any = getattr(torch, requested)
    return dtype


def load_model(options: HFOptions) -> LoadedModel:
    """Load the tokenizer and the model that ``options`` name, in eval mode on the device."""
    torch = _require("torch", TORCH_INSTALL, "the hf backend")
    transformers = _require("transformers", TORCH_INSTALL, "the hf backend")
    source = resolve_source(options)
    if source.gguf_file is not None:
        _require("gguf", GGUF_INSTALL, f"loading the GGUF file {source.gguf_file!r}")
        _require("accelerate", GGUF_INSTALL, f"loading the GGUF file {source.gguf_file!r}")
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)

    kwargs: dict[str, Any] = {}
    if source.gguf_file is not None:
        kwargs["gguf_file"] = source.gguf_file
    if options.revision is not None:
        kwargs["revision"] = options.revision
    # Passed even when False: left unset, transformers asks on the terminal whether to
    # run a repository's own code, so a keypress could enable it without the option.
    kwargs["trust_remote_code"] = options.trust_remote_code

    # transformers draws its own progress bars while it converts and loads weights;
    # syco shows one progress bar of its own, so theirs only add noise to stderr.
    transformers.utils.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source.location, **kwargs)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            source.location, dtype=dtype, **kwargs
        )
    except (OSError, ValueError, KeyError) as error:
        raise BackendError(_load_failure(source, error)) from error

    model.to(device)
    model.eval()
    return LoadedModel(source=source, model=model, tokenizer=tokenizer, device=device, dtype=dtype)


def _load_failure(source: ModelSource, error: Exception) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if source.local:
        return f"failed to load the model {source.label!r}: {first_line}"
    aliases = ", ".join(sorted(model_aliases()))
    return (
        f"failed to load the model {source.label!r} from the Hugging Face Hub ({first_line}); "
        f"pass a local model folder or GGUF file, or an alias ({aliases})"
    )


def _require(module: str, install: str, needed_for: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module, install, needed_for) from None


_hash_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, cached by path, size and modification time.

    The digests are kept in ``hashes.json`` in the syco cache directory, so a
    weights file is hashed once per change, not once per run.
    """
    resolved = path.resolve()
    stat = resolved.stat()
    key = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}"
    store = cache_dir() / "hashes.json"
    with _hash_lock:
        known = _read_hashes(store)
        if key in known:
            return known[key]

        digest = hashlib.sha256()
        with resolved.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        value = digest.hexdigest()

        known = {k: v for k, v in known.items() if not k.startswith(f"{resolved}|")}
        known[key] = value
        temporary = store.with_name(f"hashes.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known, indent=0, sort_keys=True), encoding="utf-8")
        temporary.replace(store)
        return value


def _read_hashes(store: Path) -> dict[str, str]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}
