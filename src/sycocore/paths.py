"""Where syco keeps files outside run directories."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """Return the cache directory: ``SYCO_CACHE_DIR`` or the user cache dir, created if needed."""
    configured = os.environ.get("SYCO_CACHE_DIR")
    if configured:
        path = Path(configured).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("syco"))
    path.mkdir(parents=True, exist_ok=True)
    return path
