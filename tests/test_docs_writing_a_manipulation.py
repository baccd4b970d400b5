"""Run the Python blocks of docs/writing-a-manipulation.md, in order.

A block whose first line is ``# src/<package>/<module>.py`` is the content of
that module: it runs inside a module object registered in ``sys.modules``, so
later blocks can import it, and a second block with the same path continues
the module. A block headed ``# tests/<file>.py`` runs in its own namespace and
its ``test_*`` functions are called with a temporary directory. Any other block
runs in one shared session namespace, and what it prints must equal the
``text`` block right after it.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from sycocore.plugins import load_registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-a-manipulation.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MODULE_HEADER = re.compile(r"^# src/(\w+)/(\w+)\.py$")
TEST_HEADER = re.compile(r"^# tests/\w+\.py$")


def _blocks() -> list[tuple[str, str]]:
    return [(match.group(1), match.group(2)) for match in FENCE.finditer(DOC.read_text())]


def _module(package: str, name: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    if package not in sys.modules:
        parent = types.ModuleType(package)
        parent.__path__ = []
        monkeypatch.setitem(sys.modules, package, parent)
    full_name = f"{package}.{name}"
    if full_name not in sys.modules:
        module = types.ModuleType(full_name)
        module.__package__ = package
        monkeypatch.setitem(sys.modules, full_name, module)
        setattr(sys.modules[package], name, module)
    return sys.modules[full_name]


def _run_doc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    blocks = _blocks()
    session: dict[str, object] = {"__name__": "doc_session"}
    tests_run: list[str] = []

    for index, (language, body) in enumerate(blocks):
        if language != "python":
            continue
        first_line = body.splitlines()[0]
        where = f"{DOC.name} block {index}"
        code = compile(body, where, "exec")

        module_header = MODULE_HEADER.match(first_line)
        if module_header:
            module = _module(module_header.group(1), module_header.group(2), monkeypatch)
            exec(code, module.__dict__)
            continue

        if TEST_HEADER.match(first_line):
            namespace: dict[str, object] = {"__name__": "doc_test"}
            exec(code, namespace)
            for name, function in namespace.items():
                if name.startswith("test_") and callable(function):
                    test: Callable[[Path], None] = function
                    test(tmp_path / name)
                    tests_run.append(name)
            continue

        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(code, session)
        printed = output.getvalue()
        if printed:
            next_language, next_body = blocks[index + 1]
            assert next_language == "text", f"{where} prints but no text block follows"
            assert printed == next_body, f"{where} prints other text than the doc shows"

    session["__tests_run__"] = tests_run
    return session


def test_doc_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = _run_doc(tmp_path, monkeypatch)

    assert session["__tests_run__"] == [
        "test_my_aunt_passes_conformance",
        "test_notes_say_passes_conformance",
    ]


def test_doc_plugin_registers_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_doc(tmp_path, monkeypatch)
    plugin = sys.modules["syco_plugin_my_aunt.plugin"]

    registry = load_registry(
        entry_points=[], extra_plugins=[("my_aunt", plugin)], include_builtins=False
    )

    assert registry.names("manipulation") == ["my_aunt", "notes_say"]
    assert registry.manipulation("notes_say").condition.position.value == "custom"


def test_doc_has_module_and_test_blocks() -> None:
    headers = [body.splitlines()[0] for language, body in _blocks() if language == "python"]

    assert "# src/syco_plugin_my_aunt/plugin.py" in headers
    assert "# src/syco_plugin_my_aunt/notes.py" in headers
    assert "# tests/test_my_aunt.py" in headers
