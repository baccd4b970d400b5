"""The openai backend through syco's conformance kit and plugin manager."""

from __future__ import annotations

import subprocess
import sys

from syco_plugin_openai import OpenAIBackend

from sycocore.plugins import load_registry
from sycocore.testing import check_backend


def test_backend_passes_conformance(scripted_server, tmp_path):
    options = {"base_url": scripted_server.url, "model": "toy", "retry_backoff": 0.01}

    check_backend(OpenAIBackend, options, tmp_path)

    assert scripted_server.requests_to("/v1/chat/completions")


def test_entry_point_registers_openai():
    registry = load_registry()

    assert registry.backend("openai") is OpenAIBackend
    assert registry.plugins["openai"].status == "loaded"


def test_registering_skips_openai_import():
    # A fresh interpreter, because this process has imported openai already.
    code = (
        "import sys; from sycocore.plugins import load_registry; "
        "registry = load_registry(); registry.backend('openai'); "
        "print(sorted(m for m in ('openai', 'httpx', 'httpx2') if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
