"""``syco plugins``: what is installed, what is available, install, diagnose."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError, PluginError

__all__ = ["plugins_app"]

plugins_app = typer.Typer(
    help="Inspect, install and diagnose plugins.",
    no_args_is_help=True,
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON on stdout.")

# Libraries each first-party backend needs at run time, checked by `doctor` without importing.
_RUNTIME_NEEDS = {
    "hf": ("torch", "transformers", "gguf", "accelerate"),
    "llamacpp": ("llama_cpp", "numpy"),
    "openai": ("openai",),
}


@plugins_app.command("list")
def list_plugins(as_json: bool = JSON_OPTION) -> None:
    """List loaded, failed and disabled plugins with version and hooks."""
    from ..plugins import get_registry
    from .output import print_json, print_table

    infos = [info.to_dict() for info in get_registry().plugins.values()]
    if as_json:
        print_json(infos)
        return
    rows = [
        [
            info["name"],
            info["distribution"],
            info["version"],
            info["status"],
            ", ".join(info["hooks"]),
            "; ".join(f"{k}: {', '.join(v)}" for k, v in info["registered"].items()),
        ]
        for info in infos
    ]
    print_table(
        "Plugins", ["name", "distribution", "version", "status", "hooks", "registered"], rows
    )


@plugins_app.command("available")
def available(as_json: bool = JSON_OPTION) -> None:
    """List the first-party plugins from the catalogue and whether each is installed."""
    import importlib.metadata

    from ..catalogue import read_catalogue
    from .output import print_json, print_table

    rows: list[dict[str, Any]] = []
    for entry in read_catalogue():
        try:
            version: str | None = importlib.metadata.version(entry.distribution)
        except importlib.metadata.PackageNotFoundError:
            version = None
        rows.append(
            {
                "name": entry.name,
                "distribution": entry.distribution,
                "kind": entry.kind,
                "installed": version,
                "summary": entry.summary,
            }
        )
    if as_json:
        print_json(rows)
        return
    columns = ["name", "distribution", "kind", "installed", "summary"]
    print_table("Available plugins", columns, [[row[c] for c in columns] for row in rows])


@plugins_app.command("install")
def install(
    name: str | None = typer.Argument(
        None, help="A plugin name from the catalogue, or a path to a plugin folder or wheel."
    ),
    distribution: str | None = typer.Option(
        None,
        "--distribution",
        help="Install this distribution from the package index, even if it is not in the "
        "catalogue. You vouch for it: a plugin runs code inside syco.",
    ),
    editable: bool = typer.Option(False, "--editable", "-e", help="Editable install of a path."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the pip command only."),
) -> None:
    """Install a plugin into the Python environment that runs syco.

    Only catalogue names, explicit paths and an explicit --distribution are
    accepted, so a typo cannot install an unrelated package.
    """
    from ..catalogue import find_checkout, read_catalogue
    from .output import stdout

    if (name is None) == (distribution is None) or name == "" or distribution == "":
        raise ConfigError("give either a plugin NAME or PATH, or --distribution DIST")
    target: str
    if distribution is not None:
        target = distribution
    else:
        assert name is not None
        catalogue = {entry.name: entry for entry in read_catalogue()}
        by_distribution = {entry.distribution: entry for entry in catalogue.values()}
        entry = catalogue.get(name) or by_distribution.get(name)
        path = Path(name)
        if entry is not None:
            checkout = find_checkout()
            if checkout is not None and (checkout / entry.path).is_dir():
                target = str(checkout / entry.path)
            else:
                target = entry.distribution
        elif path.exists():
            target = str(path.resolve())
        elif ("/" in name or name.startswith(".")) and "://" not in name:
            raise ConfigError(f"plugin path {name} does not exist")
        else:
            from ..errors import UnknownNameError

            raise UnknownNameError("plugin", name, catalogue)
    command = [sys.executable, "-m", "pip", "install"]
    if editable:
        command.append("-e")
    command.append(target)
    stdout.print(" ".join(command), highlight=False)
    if dry_run:
        return
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise PluginError(f"pip failed to install {target} (exit status {completed.returncode})")


@plugins_app.command("doctor")
def doctor(as_json: bool = JSON_OPTION) -> None:
    """Explain failed or disabled plugins and missing runtime libraries.

    Exits with status 1 when a plugin failed to load.
    """
    from ..plugins import get_registry
    from .output import print_json, stdout

    registry = get_registry()
    problems: list[dict[str, str]] = []
    for info in registry.plugins.values():
        if info.status == "failed":
            problems.append(
                {
                    "plugin": info.name,
                    "problem": info.error or "failed",
                    "fix": f"reinstall {info.distribution or info.module}, or disable it with "
                    f"SYCO_DISABLE_PLUGINS={info.name}",
                }
            )
        elif info.status == "disabled":
            if "SYCO_DISABLE_PLUGINS" in (info.error or ""):
                fix = f"remove {info.name} from SYCO_DISABLE_PLUGINS to load it"
            else:
                fix = f"add {info.name} to SYCO_LOAD_PLUGINS, or unset it, to load it"
            problems.append({"plugin": info.name, "problem": info.error or "disabled", "fix": fix})
    for backend in registry.names("backend"):
        for module in _RUNTIME_NEEDS.get(backend, ()):
            if importlib.util.find_spec(module) is None:
                problems.append(
                    {
                        "plugin": registry.get("backend", backend).plugin,
                        "problem": f"backend {backend!r} needs the module {module!r}, "
                        "which is not installed",
                        "fix": f"see the README of the {backend} plugin for the install command",
                    }
                )
    failed = any(info.status == "failed" for info in registry.plugins.values())
    if as_json:
        print_json({"ok": not problems, "problems": problems})
    elif not problems:
        loaded = sum(1 for info in registry.plugins.values() if info.status == "loaded")
        stdout.print(f"All {loaded} plugins loaded; no problems found.")
    else:
        for problem in problems:
            stdout.print(
                f"- {problem['plugin']}: {problem['problem']}\n  fix: {problem['fix']}",
                highlight=False,
            )
    if failed:
        raise typer.Exit(1)
