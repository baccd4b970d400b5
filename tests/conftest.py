"""Fixtures for core tests: isolated caches, installed test plugins and a CLI runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from sycocore.plugins import reset_registry


def install_dist_info(
    site: Path,
    distribution: str,
    entry_points: dict[str, str],
    modules: dict[str, str] | None = None,
) -> None:
    """Write a minimal installed distribution into ``site``: a dist-info folder with
    METADATA and entry_points.txt, plus module files. importlib.metadata finds it
    exactly as it finds a pip-installed package."""
    site.mkdir(parents=True, exist_ok=True)
    normalized = distribution.replace("-", "_")
    info = site / f"{normalized}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1.0\n", encoding="utf-8"
    )
    lines = ["[syco]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class SycoCli:
    """Runs ``syco`` in a subprocess with the test plugin installed."""

    site: Path
    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, check: bool = False, timeout: float = 120) -> CliResult:
        completed = subprocess.run(
            [sys.executable, "-m", "sycocore", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
            check=False,
        )
        result = CliResult(completed.returncode, completed.stdout, completed.stderr)
        if check and completed.returncode != 0:
            raise AssertionError(f"syco {' '.join(args)} failed:\n{completed.stderr}")
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "sycocore", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.cwd,
            preexec_fn=_default_sigint,
        )


def _default_sigint() -> None:
    # A shell without job control starts background commands with SIGINT
    # ignored, and children inherit that. Python then installs no
    # KeyboardInterrupt handler, so tests that send SIGINT would see the run
    # finish instead. Restoring the default lets them pass however pytest runs.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the score cache and default run root at fresh folders for every test."""
    monkeypatch.setenv("SYCO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("SYCO_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("SYCO_DISABLE_PLUGINS", raising=False)
    reset_registry(None)


@pytest.fixture
def syco_cli(tmp_path: Path) -> SycoCli:
    """A ``syco`` runner whose environment has the scripted test plugin installed."""
    site = tmp_path / "site"
    install_dist_info(site, "syco-test-plugin", {"testing": "sycocore.testing.plugin"})
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["SYCO_CACHE_DIR"] = str(tmp_path / "cache")
    env["COLUMNS"] = "200"
    env.pop("SYCO_LOAD_PLUGINS", None)
    env.pop("SYCO_DISABLE_PLUGINS", None)
    work = tmp_path / "work"
    work.mkdir()
    return SycoCli(site=site, env=env, cwd=work)
