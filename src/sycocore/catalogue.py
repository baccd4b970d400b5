"""The catalogue of first-party plugins, read from ``registry.toml``.

In a checkout of the syco repository the top-level ``registry.toml`` is used,
and plugins install from their folder. Elsewhere the copy shipped inside
sycocore is used, and plugins install by distribution name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError

__all__ = ["CatalogueEntry", "find_checkout", "read_catalogue"]

FILENAME = "registry.toml"
_FIELDS = ("name", "distribution", "path", "kind", "summary")


@dataclass(frozen=True)
class CatalogueEntry:
    """One first-party plugin."""

    name: str
    distribution: str
    path: str
    kind: str
    summary: str


def find_checkout(start: Path | None = None) -> Path | None:
    """Return the root of the syco checkout containing ``start`` (default: cwd), if any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / FILENAME).is_file() and (folder / "plugins").is_dir():
            return folder
    return None


def read_catalogue(path: Path | None = None) -> list[CatalogueEntry]:
    """Read the catalogue at ``path``, the checkout's, or the packaged copy."""
    if path is None:
        checkout = find_checkout()
        path = checkout / FILENAME if checkout else Path(__file__).with_name(FILENAME)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read the plugin catalogue {path}: {error}") from None
    entries = []
    for index, row in enumerate(data.get("plugin", []), start=1):
        missing = [name for name in _FIELDS if not isinstance(row.get(name), str)]
        if missing:
            raise ConfigError(f"{path}: plugin entry {index} lacks {', '.join(missing)}")
        entries.append(CatalogueEntry(**{name: row[name] for name in _FIELDS}))
    return entries
