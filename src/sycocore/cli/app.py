"""The root typer app: global options, core command groups and plugin commands."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer

from .. import __version__

__all__ = ["build_app", "configure_logging_early"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _configure_logging(level: str) -> None:
    from rich.logging import RichHandler

    from .output import stderr

    handler = RichHandler(console=stderr, show_path=False, show_time=False, markup=False)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def configure_logging_early(argv: list[str]) -> None:
    """Install the log handler from ``--log-level`` or SYCO_LOG_LEVEL before plugins load.

    Plugins load while the app is built, before typer parses the root options, so
    without this their loading decisions would bypass the requested level.
    """
    level = os.environ.get("SYCO_LOG_LEVEL", "WARNING")
    for index, argument in enumerate(argv):
        if argument == "--log-level" and index + 1 < len(argv):
            level = argv[index + 1]
            break
        if argument.startswith("--log-level="):
            level = argument.partition("=")[2]
            break
        if not argument.startswith("-"):
            break  # the command name: root options come before it
    if level.upper() in LOG_LEVELS:
        _configure_logging(level.upper())


def _root_callback(
    log_level: str = typer.Option(
        os.environ.get("SYCO_LOG_LEVEL", "WARNING"),
        "--log-level",
        help="Log level on stderr: DEBUG, INFO, WARNING or ERROR. Env: SYCO_LOG_LEVEL.",
        case_sensitive=False,
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Measure factual sycophancy: truth margin and manipulation sensitivity."""
    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    _configure_logging(level)
    if version:
        typer.echo(f"syco {__version__}")
        raise typer.Exit(0)


def build_app() -> Any:
    """Build the click command of the whole CLI, with the commands plugins register."""
    from .eval import eval_command
    from .listing import list_app
    from .new import app as new_app
    from .plugins import plugins_app
    from .sweep import sweep_command

    app = typer.Typer(
        name="syco",
        help="Measure factual sycophancy: truth margin and manipulation sensitivity.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback(invoke_without_command=True)(_root_callback)
    app.command("eval", no_args_is_help=False)(eval_command)
    app.command("sweep")(sweep_command)
    app.add_typer(list_app, name="list")
    app.add_typer(plugins_app, name="plugins")
    app.add_typer(new_app, name="new")
    core_names = {"eval", "sweep", "list", "plugins", "new"}
    _mount_plugin_commands(app, core_names)
    return typer.main.get_command(app)


def _mount_plugin_commands(app: typer.Typer, taken: set[str]) -> None:
    from ..plugins import get_registry

    registry = get_registry()
    for entry in registry.entries("command"):
        sub_app, help_text = entry.value
        if entry.name in taken:
            logging.getLogger(__name__).warning(
                "plugin %r registers command %r, which syco already has; ignored",
                entry.plugin,
                entry.name,
            )
            continue
        taken.add(entry.name)
        commands: list[Any] = sub_app.registered_commands
        if len(commands) == 1 and not sub_app.registered_groups:
            info = commands[0]
            app.command(entry.name, help=help_text or info.help)(info.callback)
        else:
            app.add_typer(sub_app, name=entry.name, help=help_text)
