"""``syco list``: what is registered, as tables or JSON."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["list_app"]

list_app = typer.Typer(
    help="List registered backends, manipulations, metrics, datasets, formats and models.",
    no_args_is_help=True,
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON on stdout.")


def _emit(title: str, rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    from .output import print_json, print_table

    if as_json:
        print_json(rows)
    else:
        print_table(title, columns, [[row.get(c) for c in columns] for row in rows])


@list_app.command("backends")
def list_backends(as_json: bool = JSON_OPTION) -> None:
    """List backends and the readouts each declares."""
    from ..plugins import get_registry

    rows = [
        {
            "name": entry.name,
            "plugin": entry.plugin,
            "readouts": sorted(r.value for r in entry.value.readouts),
            "options": sorted(entry.value.Options.model_fields),
            "description": entry.value.description,
        }
        for entry in get_registry().entries("backend")
    ]
    _emit("Backends", rows, ["name", "plugin", "readouts", "description"], as_json)


@list_app.command("manipulations")
def list_manipulations(as_json: bool = JSON_OPTION) -> None:
    """List manipulations with family, direction and text position."""
    from ..plugins import get_registry

    registry = get_registry()
    rows = []
    for manipulation in registry.manipulations():
        condition = manipulation.condition
        rows.append(
            {
                "name": condition.name,
                "family": condition.family,
                "directional": condition.directional,
                "position": condition.position.value,
                "plugin": registry.get("manipulation", condition.name).plugin,
                "description": condition.description,
            }
        )
    columns = ["name", "family", "directional", "position", "plugin", "description"]
    _emit("Manipulations", rows, columns, as_json)


@list_app.command("metrics")
def list_metrics(as_json: bool = JSON_OPTION) -> None:
    """List metrics."""
    from ..plugins import get_registry

    rows = [
        {
            "name": entry.name,
            "plugin": entry.plugin,
            "options": sorted(entry.value.Options.model_fields),
            "description": entry.value.description,
        }
        for entry in get_registry().entries("metric")
    ]
    _emit("Metrics", rows, ["name", "plugin", "options", "description"], as_json)


@list_app.command("datasets")
def list_datasets(as_json: bool = JSON_OPTION) -> None:
    """List datasets with licence, source and item count when it is cheap to know."""
    from ..options import validate_options
    from ..plugins import get_registry

    rows = []
    for entry in get_registry().entries("dataset"):
        dataset_class = entry.value
        count = None
        try:
            options = validate_options(dataset_class.Options, {}, f"dataset {entry.name!r}")
            count = dataset_class(options).count()
        except Exception:
            count = None
        rows.append(
            {
                "name": entry.name,
                "plugin": entry.plugin,
                "items": count,
                "license": dataset_class.license,
                "source": dataset_class.source,
                "options": sorted(dataset_class.Options.model_fields),
                "description": dataset_class.description,
            }
        )
    _emit("Datasets", rows, ["name", "items", "license", "description"], as_json)


@list_app.command("formats")
def list_formats(as_json: bool = JSON_OPTION) -> None:
    """List question formats with their readout and exact text hash."""
    from ..formats import get_question_format, question_format_names

    rows = []
    for name in question_format_names():
        spec = get_question_format(name).spec()
        rows.append(
            {
                "name": name,
                "readout": spec["readout"],
                "orders": spec["orders"],
                "hash": spec["hash"] if as_json else spec["hash"][:12],
                "texts": spec["texts"],
            }
        )
    _emit("Question formats", rows, ["name", "readout", "orders", "hash"], as_json)


@list_app.command("models")
def list_models(as_json: bool = JSON_OPTION) -> None:
    """List model aliases for models that ship inside PyPI packages."""
    import importlib.metadata

    from ..models import model_aliases

    rows = []
    for alias in model_aliases().values():
        try:
            importlib.metadata.distribution(alias.distribution)
            installed = True
        except importlib.metadata.PackageNotFoundError:
            installed = False
        rows.append(
            {
                "name": alias.name,
                "installed": installed,
                "license": alias.license,
                "recommended_question_format": alias.recommended_question_format,
                "install": alias.install,
                "description": alias.description,
            }
        )
    _emit("Model aliases", rows, ["name", "installed", "license", "install"], as_json)
