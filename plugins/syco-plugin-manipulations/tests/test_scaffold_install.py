"""End-to-end test of the scaffold: ``syco new manipulation``, pip install, ``syco list``.

The package is installed with pip into a temporary target directory rather
than into the shared virtual environment, and ``syco`` runs in a subprocess
with that directory on ``PYTHONPATH``, so entry-point discovery sees it exactly
as it would see an installed distribution, and nothing needs uninstalling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SYCO = [sys.executable, "-c", "import sys; from sycocore.cli import main; sys.exit(main())"]


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.mark.slow
def test_scaffold_installs_and_lists(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": ""}
    env.pop("SYCO_LOAD_PLUGINS", None)
    env.pop("SYCO_DISABLE_PLUGINS", None)

    created = _run(
        [*SYCO, "new", "manipulation", "grandma_says", "--family", "authority", "--out", "."],
        env,
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    package_dir = tmp_path / "syco-plugin-grandma-says"
    assert (package_dir / "pyproject.toml").is_file()

    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q"]
    installed = _run([*pip, "--target", str(target), str(package_dir)], env, tmp_path)
    assert installed.returncode == 0, installed.stderr
    assert (target / "syco_plugin_grandma_says" / "plugin.py").is_file()

    env["PYTHONPATH"] = str(target)
    listed = _run([*SYCO, "list", "manipulations", "--json"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    entries = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert entries["grandma_says"]["family"] == "authority"
    assert entries["grandma_says"]["directional"] is True
    assert entries["grandma_says"]["plugin"] == "grandma_says"
    assert "experts" in entries

    tested = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(package_dir / "tests"),
        ],
        env,
        package_dir,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
