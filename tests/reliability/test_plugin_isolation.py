"""Plugin isolation through the CLI: a broken plugin is skipped, named and explained.

Each broken plugin here is a real installed distribution (a dist-info folder
on PYTHONPATH) found through the ``syco`` entry-point group.
"""

from __future__ import annotations

import json

import pytest

from ..conftest import SycoCli, install_dist_info
from .support import SCRIPTED

QUICK_RUN = (*SCRIPTED, "--metrics", "none", "--manipulations", "none", "--out", "run")

RAISING_REGISTRATION = """
from sycocore.hookspecs import hookimpl


@hookimpl
def register_backends(register):
    raise RuntimeError("registration exploded")
"""

FAILING_IMPORT = """
raise ImportError("needs the library frobnicate, which is missing")
"""


@pytest.fixture
def broken_cli(syco_cli: SycoCli) -> SycoCli:
    """A CLI with two broken plugins: one raises at import, one while registering."""
    install_dist_info(
        syco_cli.site, "syco-bad-register", {"badreg": "syco_bad_register"},
        {"syco_bad_register": RAISING_REGISTRATION},
    )  # fmt: skip
    install_dist_info(
        syco_cli.site, "syco-bad-import", {"badimport": "syco_bad_import"},
        {"syco_bad_import": FAILING_IMPORT},
    )  # fmt: skip
    return syco_cli


def test_broken_plugins_warn_once_each(broken_cli: SycoCli) -> None:
    result = broken_cli("list", "backends", "--json")

    assert result.returncode == 0
    assert "scripted" in {backend["name"] for backend in json.loads(result.stdout)}
    warnings = result.stderr.strip().splitlines()
    register_lines = [line for line in warnings if "plugin 'badreg' (syco-bad-register)" in line]
    import_lines = [line for line in warnings if "plugin 'badimport' (syco-bad-import)" in line]
    assert len(register_lines) == 1
    assert len(import_lines) == 1
    assert "raised in register_backends: RuntimeError: registration exploded" in register_lines[0]
    assert "SYCO_DISABLE_PLUGINS=badreg" in register_lines[0]
    assert "failed to import: ImportError: needs the library frobnicate" in import_lines[0]
    assert "SYCO_DISABLE_PLUGINS=badimport" in import_lines[0]
    assert "Traceback" not in result.stderr


def test_broken_plugins_eval_still_works(broken_cli: SycoCli) -> None:
    result = broken_cli(*QUICK_RUN, "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["complete"] is True
    assert "plugin 'badreg'" in result.stderr


@pytest.mark.slow
def test_broken_plugins_doctor_explains(broken_cli: SycoCli) -> None:
    text = broken_cli("plugins", "doctor")
    report = broken_cli("plugins", "doctor", "--json")

    assert text.returncode == 1
    assert report.returncode == 1
    problems = {problem["plugin"]: problem for problem in json.loads(report.stdout)["problems"]}
    assert problems["badreg"]["problem"] == (
        "raised in register_backends: RuntimeError: registration exploded"
    )
    assert "SYCO_DISABLE_PLUGINS=badreg" in problems["badreg"]["fix"]
    assert "frobnicate" in problems["badimport"]["problem"]
    assert "reinstall syco-bad-import" in problems["badimport"]["fix"]
    assert "- badreg: raised in register_backends" in text.stdout
    assert "- badimport: failed to import" in text.stdout


def test_broken_plugins_listed_as_failed(broken_cli: SycoCli) -> None:
    result = broken_cli("plugins", "list", "--json")

    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)}
    assert result.returncode == 0
    assert plugins["badreg"]["status"] == "failed"
    assert plugins["badreg"]["registered"] == {}
    assert plugins["badimport"]["status"] == "failed"
    assert plugins["testing"]["status"] == "loaded"


@pytest.mark.slow
def test_disable_plugins_env_skips_plugin(broken_cli: SycoCli) -> None:
    broken_cli.env["SYCO_DISABLE_PLUGINS"] = "badreg,badimport,manipulations"
    listing = broken_cli("plugins", "list", "--json")
    doctor = broken_cli("plugins", "doctor", "--json")
    run = broken_cli(*SCRIPTED, "--metrics", "none", "--manipulations", "experts")

    plugins = {plugin["name"]: plugin for plugin in json.loads(listing.stdout)}
    assert listing.stderr == ""
    assert plugins["manipulations"]["status"] == "disabled"
    assert plugins["manipulations"]["error"] == "disabled by SYCO_DISABLE_PLUGINS"
    assert doctor.returncode == 0
    fixes = {problem["plugin"]: problem["fix"] for problem in json.loads(doctor.stdout)["problems"]}
    assert fixes["manipulations"] == "remove manipulations from SYCO_DISABLE_PLUGINS to load it"
    assert run.returncode == 1
    assert "unknown manipulation or family 'experts'" in run.stderr


@pytest.mark.slow
def test_load_plugins_env_allows_only_listed(broken_cli: SycoCli) -> None:
    broken_cli.env["SYCO_LOAD_PLUGINS"] = "testing"
    listing = broken_cli("plugins", "list", "--json")
    backends = broken_cli("list", "backends", "--json")
    run = broken_cli(*QUICK_RUN, "--json")

    statuses = {plugin["name"]: plugin["status"] for plugin in json.loads(listing.stdout)}
    assert statuses["testing"] == "loaded"
    assert statuses["sycocore"] == "loaded"
    assert statuses["badreg"] == "disabled"
    assert statuses["hf"] == "disabled"
    assert [backend["name"] for backend in json.loads(backends.stdout)] == ["scripted"]
    assert "badreg" not in backends.stderr
    assert run.returncode == 0, run.stderr


def test_load_plugins_env_by_distribution(broken_cli: SycoCli) -> None:
    broken_cli.env["SYCO_LOAD_PLUGINS"] = "syco-test-plugin"
    result = broken_cli("plugins", "list", "--json")

    statuses = {plugin["name"]: plugin["status"] for plugin in json.loads(result.stdout)}
    assert statuses["testing"] == "loaded"
    assert statuses["openai"] == "disabled"


@pytest.mark.slow
def test_load_plugins_env_empty_keeps_builtins(syco_cli: SycoCli) -> None:
    syco_cli.env["SYCO_LOAD_PLUGINS"] = ""
    datasets = syco_cli("list", "datasets", "--json")
    run = syco_cli(*QUICK_RUN)

    names = {dataset["name"] for dataset in json.loads(datasets.stdout)}
    assert "countries" in names
    assert "inline" not in names
    assert run.returncode == 1
    assert "unknown backend 'scripted'" in run.stderr
