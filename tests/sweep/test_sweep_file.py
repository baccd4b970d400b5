"""Parsing and validation of sweep files, and the checks made before any model runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sycocore.errors import MissingDependencyError
from sycocore.sweep import SweepError, eval_config, load_sweep_file
from sycocore.sweep_ray import import_ray

from .conftest import SCRIPTED_SETTINGS, scripted_model, write_sweep


def _error(path: Path) -> str:
    with pytest.raises(SweepError) as caught:
        load_sweep_file(path)
    return str(caught.value)


def test_sweep_file_parses_models(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "s.toml",
        SCRIPTED_SETTINGS,
        scripted_model("a-base"),
        scripted_model("a-it", regime="instruct", pair="a-base", size_b=0.5),
    )
    spec = load_sweep_file(path)
    assert [entry.name for entry in spec.model] == ["a-base", "a-it"]
    assert spec.model[1].pair == "a-base"
    assert spec.model[1].size_b == 0.5
    assert spec.sweep.manipulations == "very_sure,user_phd"
    assert len(spec.sha256) == 64


def test_sweep_file_unknown_model_key(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"), scripted_model("b", sise=3)
    )
    message = _error(path)
    assert str(path) in message
    assert "[[model]] entry 2 ('b'), field 'sise': unknown key" in message


def test_sweep_file_missing_field(tmp_path: Path) -> None:
    model = scripted_model("a").replace('regime = "base"\n', "")
    message = _error(write_sweep(tmp_path / "s.toml", SCRIPTED_SETTINGS, model))
    assert "[[model]] entry 1 ('a'), field 'regime': missing" in message


def test_sweep_file_invalid_size(tmp_path: Path) -> None:
    message = _error(
        write_sweep(tmp_path / "s.toml", SCRIPTED_SETTINGS, scripted_model("a", size_b=-1))
    )
    assert "[[model]] entry 1 ('a'), field 'size_b'" in message
    assert "greater than 0" in message


def test_sweep_file_duplicate_names(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "s.toml", SCRIPTED_SETTINGS, scripted_model("a"), scripted_model("a")
    )
    message = _error(path)
    assert "[[model]] entry 2 ('a'), field 'name': duplicate of entry 1" in message


def test_sweep_file_pair_names_no_model(tmp_path: Path) -> None:
    path = write_sweep(tmp_path / "s.toml", SCRIPTED_SETTINGS, scripted_model("a", pair="base"))
    message = _error(path)
    assert "[[model]] entry 1 ('a'), field 'pair': 'base' names no model of the sweep" in message


def test_sweep_file_pair_names_itself(tmp_path: Path) -> None:
    message = _error(
        write_sweep(tmp_path / "s.toml", SCRIPTED_SETTINGS, scripted_model("a", pair="a"))
    )
    assert "cannot be its own pair" in message


def test_sweep_file_unknown_settings_key(tmp_path: Path) -> None:
    settings = SCRIPTED_SETTINGS + 'datset = "countries"\n'
    message = _error(write_sweep(tmp_path / "s.toml", settings, scripted_model("a")))
    assert "[sweep], field 'datset': unknown key" in message


def test_sweep_file_no_models(tmp_path: Path) -> None:
    message = _error(write_sweep(tmp_path / "s.toml", SCRIPTED_SETTINGS))
    assert "[[model]] tables: missing" in message


def test_sweep_file_model_in_options(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "s.toml", SCRIPTED_SETTINGS, scripted_model("a", options={"model": "x"})
    )
    assert "field 'options'" in _error(path)


def test_sweep_file_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[sweep\nname = 1\n", encoding="utf-8")
    message = _error(path)
    assert f"sweep file {path} is not valid TOML" in message
    assert "line 1" in message


def test_sweep_file_not_found(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "missing.toml")


def test_eval_config_from_entry(tmp_path: Path) -> None:
    settings = SCRIPTED_SETTINGS.replace('dataset = "inline"', 'dataset = "file"')
    settings += 'limit = "all"\ndataset_options = {path = "items.jsonl"}\n'
    path = write_sweep(
        tmp_path / "s.toml",
        settings,
        scripted_model("a-it", regime="instruct", options={"delay": 0.5}),
    )
    spec = load_sweep_file(path)
    config = eval_config(spec, spec.model[0], tmp_path / "sweep")
    assert config.out == tmp_path / "sweep" / "runs" / "a-it"
    assert config.backend_options == {"delay": 0.5, "model": "a-it"}
    assert config.limit is None
    assert config.dataset_options == {"path": str(tmp_path / "items.jsonl")}
    assert config.model_meta == {
        "name": "a-it",
        "family": "toy",
        "size_b": 1.0,
        "regime": "instruct",
        "pair": None,
    }


def test_gpu_default_for_hf_on_cuda(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "s.toml",
        SCRIPTED_SETTINGS,
        scripted_model("cuda", backend="hf", options={"device": "cuda"}),
        scripted_model("cpu", backend="hf", options={"device": "cpu"}),
        scripted_model("two", backend="hf", resources={"num_gpus": 2, "num_cpus": 4}),
    )
    cuda, cpu, two = load_sweep_file(path).model
    assert cuda.gpus() == 1.0
    assert cpu.gpus() == 0.0
    assert two.gpus() == 2.0
    assert two.resources.num_cpus == 4.0


def test_missing_ray_names_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "sycocore\[ray\]"'):
        import_ray()
