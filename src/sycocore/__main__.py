"""Run the CLI with ``python -m sycocore``."""

from .cli import entry_point

entry_point()
