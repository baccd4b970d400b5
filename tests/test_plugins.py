"""The plugin manager: entry points, allow and block lists, failures and duplicates."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sycocore.errors import PluginError, UnknownNameError
from sycocore.hookspecs import hookimpl
from sycocore.manipulations import template_manipulation
from sycocore.plugins import load_registry
from sycocore.testing import ScriptedBackend, registry_with

from .conftest import SycoCli, install_dist_info


class InlinePlugin:
    @hookimpl
    def register_manipulations(self, register: Any) -> None:
        register(
            template_manipulation(
                "aunt",
                "My aunt says {bait}.",
                family="authority",
                directional=True,
                description="aunt",
            )
        )


class RaisingPlugin:
    @hookimpl
    def register_backends(self, register: Any) -> None:
        raise RuntimeError("boom in registration")


class MisspelledPlugin:
    @hookimpl
    def register_backend(self, register: Any) -> None:  # missing final s
        register(ScriptedBackend)


class DuplicatePlugin:
    @hookimpl
    def register_backends(self, register: Any) -> None:
        register(ScriptedBackend)


class WrongTypePlugin:
    @hookimpl
    def register_backends(self, register: Any) -> None:
        register("not a class")


def _load(*plugins: tuple[str, object]) -> Any:
    return load_registry(entry_points=(), extra_plugins=plugins)


def test_registry_inline_plugin_registers(caplog: pytest.LogCaptureFixture) -> None:
    registry = _load(("inline", InlinePlugin()))
    assert registry.names("manipulation") == ["aunt"]
    assert registry.plugins["inline"].registered == {"manipulation": ["aunt"]}


def test_registry_skips_raising_plugin(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        registry = _load(("raising", RaisingPlugin()), ("inline", InlinePlugin()))
    assert registry.plugins["raising"].status == "failed"
    assert "boom in registration" in (registry.plugins["raising"].error or "")
    assert registry.names("manipulation") == ["aunt"]
    assert "SYCO_DISABLE_PLUGINS=raising" in caplog.text


def test_registry_rejects_unknown_hook() -> None:
    registry = _load(("misspelled", MisspelledPlugin()))
    info = registry.plugins["misspelled"]
    assert info.status == "failed"
    assert "register_backend" in (info.error or "")
    assert registry.names("backend") == []


def test_registry_rejects_invalid_registration() -> None:
    registry = _load(("wrong", WrongTypePlugin()))
    assert registry.plugins["wrong"].status == "failed"
    assert "Backend subclass" in (registry.plugins["wrong"].error or "")


def test_registry_duplicate_name_names_both() -> None:
    with pytest.raises(PluginError, match=r"'first'.*'second'"):
        _load(("first", DuplicatePlugin()), ("second", DuplicatePlugin()))


def test_registry_unknown_name_suggests() -> None:
    registry = registry_with()
    with pytest.raises(UnknownNameError) as caught:
        registry.backend("scriptedd")
    assert caught.value.suggestions == ["scripted"]


def test_registry_disable_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYCO_DISABLE_PLUGINS", "inline")
    registry = _load(("inline", InlinePlugin()))
    assert registry.plugins["inline"].status == "disabled"
    assert registry.names("manipulation") == []


def test_registry_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYCO_LOAD_PLUGINS", "other")
    registry = _load(("inline", InlinePlugin()), ("other", DuplicatePlugin()))
    assert registry.plugins["inline"].status == "disabled"
    assert registry.plugins["other"].status == "loaded"
    assert "countries" in registry.names("dataset")


def test_entry_point_plugin_discovered(syco_cli: SycoCli) -> None:
    result = syco_cli("plugins", "list", "--json", check=True)
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["testing"]["status"] == "loaded"
    assert plugins["testing"]["distribution"] == "syco-test-plugin"
    assert plugins["testing"]["version"] == "0.1.0"
    assert plugins["testing"]["hooks"] == ["register_backends", "register_datasets"]


def test_broken_entry_point_skipped(syco_cli: SycoCli) -> None:
    install_dist_info(
        syco_cli.site,
        "syco-broken-plugin",
        {"broken": "syco_broken_module"},
        {"syco_broken_module": "raise ImportError('needs a library that is missing')\n"},
    )
    result = syco_cli("list", "backends", "--json")
    assert result.returncode == 0
    assert "scripted" in {b["name"] for b in json.loads(result.stdout)}
    assert "plugin 'broken'" in result.stderr
    assert "needs a library that is missing" in result.stderr
    assert "SYCO_DISABLE_PLUGINS=broken" in result.stderr
    doctor = syco_cli("plugins", "doctor")
    assert doctor.returncode == 1
    assert "broken" in doctor.stdout


def test_disable_env_silences_broken_plugin(syco_cli: SycoCli) -> None:
    install_dist_info(
        syco_cli.site,
        "syco-broken-plugin",
        {"broken": "syco_broken_module"},
        {"syco_broken_module": "raise ImportError('missing')\n"},
    )
    syco_cli.env["SYCO_DISABLE_PLUGINS"] = "broken"
    result = syco_cli("list", "backends", "--json", check=True)
    assert "broken" not in result.stderr


def test_registry_toml_matches_plugins_folder() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    catalogue = tomllib.loads((root / "registry.toml").read_text(encoding="utf-8"))["plugin"]
    folders = sorted(p.name for p in (root / "plugins").iterdir() if p.is_dir())
    assert sorted(entry["path"].removeprefix("plugins/") for entry in catalogue) == folders
    for entry in catalogue:
        pyproject = tomllib.loads(
            (root / entry["path"] / "pyproject.toml").read_text(encoding="utf-8")
        )
        assert pyproject["project"]["name"] == entry["distribution"]
        assert entry["name"] in pyproject["project"]["entry-points"]["syco"]
    packaged = root / "src" / "sycocore" / "registry.toml"
    assert packaged.read_text(encoding="utf-8") == (root / "registry.toml").read_text(
        encoding="utf-8"
    )
