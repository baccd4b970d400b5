"""Model resolution and loading errors of the hf backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.loading import file_sha256
from syco_plugin_hf.options import HFOptions

from sycocore.errors import BackendError, ConfigError, MissingDependencyError


def test_missing_model_path_raises(tmp_path: Path) -> None:
    backend = HFBackend(HFOptions(model=str(tmp_path / "absent" / "model.gguf")))

    with pytest.raises(BackendError, match=r"model path .*absent.* not found"):
        backend.load()


def test_non_gguf_file_is_rejected(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"not a model")
    backend = HFBackend(HFOptions(model=str(weights)))

    with pytest.raises(ConfigError, match=r"not a \.gguf file"):
        backend.load()


def test_missing_gguf_package_names_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    # A None entry in sys.modules makes the import fail as if gguf were absent.
    monkeypatch.setitem(sys.modules, "gguf", None)
    backend = HFBackend(HFOptions(model=str(weights)))

    with pytest.raises(MissingDependencyError, match="pip install gguf accelerate"):
        backend.load()


def test_missing_gguf_file_in_folder(chat_model_dir: Path) -> None:
    backend = HFBackend(HFOptions(model=str(chat_model_dir), gguf_file="absent.gguf"))

    with pytest.raises(ConfigError, match=r"absent\.gguf"):
        backend.load()


def test_invalid_device_is_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="cuda:N"):
        HFOptions(device="gpu")


def test_unavailable_cuda_is_rejected(chat_model_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is available here")
    backend = HFBackend(HFOptions(model=str(chat_model_dir), device="cuda"))

    with pytest.raises(ConfigError, match="no CUDA GPU"):
        backend.load()


def test_file_hash_cached_by_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    monkeypatch.setenv("SYCO_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "weights.gguf"
    weights.write_bytes(b"first")

    first = file_sha256(weights)
    weights.write_bytes(b"second version")
    second = file_sha256(weights)

    assert first == hashlib.sha256(b"first").hexdigest()
    assert second == hashlib.sha256(b"second version").hexdigest()
    assert (tmp_path / "cache" / "hashes.json").is_file()


def test_recommended_format_of_alias() -> None:
    assert HFBackend(HFOptions()).recommended_question_format() == "cloze"
    assert HFBackend(HFOptions(model="some/model")).recommended_question_format() is None


def test_register_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import syco_plugin_hf.plugin\n"
        "syco_plugin_hf.plugin.register_backends(lambda cls: None)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'transformers' not in sys.modules, 'transformers imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_hub_id_offline_raises_clear_error() -> None:
    code = (
        "from syco_plugin_hf.backend import HFBackend\n"
        "from syco_plugin_hf.options import HFOptions\n"
        "from sycocore.errors import BackendError\n"
        "try:\n"
        "    HFBackend(HFOptions(model='example-org/absent-model')).load()\n"
        "except BackendError as error:\n"
        "    print(error)\n"
    )
    # Offline mode makes the hub client fail at once instead of retrying.
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    ).stdout

    assert "'example-org/absent-model'" in output
    assert "Hugging Face Hub" in output
    assert "smollm2-135m-instruct" in output
