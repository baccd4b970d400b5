"""No code runs from data: source scan, data that looks like code, remote code, plugin install.

Datasets, run files, chat templates and options are read as data only. The
source scan rejects the calls that turn data into code: pickle, eval, exec,
unsafe YAML, ``torch.load`` without ``weights_only=True``, an unsandboxed Jinja
environment and a shell. The hf backend keeps ``trust_remote_code`` off unless
the user sets it, and ``syco plugins install`` installs only what the user names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sycocore.engine import EvalConfig, run_eval
from sycocore.manipulations import template_manipulation
from sycocore.prompts import render_chat
from sycocore.schemas import Conversation, Message, Score, ScoreRequest
from sycocore.testing import ScriptedBackend, registry_with

from ..conftest import SycoCli
from .support import REPO_ROOT, assert_one_line_error

# Each rule: a name, a pattern that finds a candidate line, and an optional
# pattern that makes that line safe.
RULES: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] = [
    ("pickle", re.compile(r"\b(c?pickle|dill|shelve|marshal|jsonpickle)\b"), None),
    ("eval", re.compile(r"(?<![\w.])eval\("), None),
    ("exec", re.compile(r"(?<![\w.])exec\("), None),
    ("compile", re.compile(r"(?<![\w.])compile\("), None),
    ("yaml.load", re.compile(r"\byaml\.(load|load_all)\("), re.compile(r"SafeLoader|CSafeLoader")),
    ("unsafe yaml", re.compile(r"\byaml\.(unsafe_load|full_load|unsafe_load_all)\b"), None),
    ("torch.load", re.compile(r"\btorch\.load\("), re.compile(r"weights_only\s*=\s*True")),
    ("trust_remote_code=True", re.compile(r"trust_remote_code[\"']?\]?\s*[=:]\s*True"), None),
    ("jinja2 without sandbox", re.compile(r"\bjinja2\.Environment\(|import Environment\b"), None),
    ("shell=True", re.compile(r"shell\s*=\s*True"), None),
]


def _source_files() -> list[Path]:
    roots = [REPO_ROOT / "src", *sorted((REPO_ROOT / "plugins").glob("*/src"))]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def _violations(path_name: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        for name, pattern, safe in RULES:
            if pattern.search(code) and not (safe and safe.search(code)):
                found.append(f"{path_name}:{number}: {name}: {line.strip()}")
    return found


def test_source_scan_finds_nothing() -> None:
    files = _source_files()
    violations = [
        problem
        for path in files
        for problem in _violations(str(path.relative_to(REPO_ROOT)), path.read_text("utf-8"))
    ]

    assert len(files) > 50
    assert any("syco-plugin-hf" in str(path) for path in files)
    assert violations == []


@pytest.mark.parametrize(
    "line",
    [
        "import pickle",
        "data = pickle.loads(blob)",
        "value = eval(text)",
        "exec(code)",
        "yaml.load(handle)",
        "yaml.full_load(handle)",
        "state = torch.load(path)",
        "torch.load(path, weights_only=False)",
        'kwargs["trust_remote_code"] = True',
        "from_pretrained(name, trust_remote_code=True)",
        "env = jinja2.Environment()",
        "subprocess.run(command, shell=True)",
    ],
)
def test_source_scan_catches_unsafe_line(line: str) -> None:
    assert _violations("sample.py", line) != []


@pytest.mark.parametrize(
    "line",
    [
        "model.eval()",
        "yaml.load(handle, Loader=yaml.SafeLoader)",
        "torch.load(path, weights_only=True)",
        'kwargs["trust_remote_code"] = options.trust_remote_code',
        "trust_remote_code: bool = False",
        "# eval( in a comment",
    ],
)
def test_source_scan_allows_safe_line(line: str) -> None:
    assert _violations("sample.py", line) == []


# Data that looks like code ----------------------------------------------------------

CODE_LIKE = {
    "question": "What is {{ 7 * 7 }} and __import__('os').system('touch pwned')?",
    "answer": "{question.__class__.__mro__}",
    "baits": ["{bait}{0}", "${{ cycler.__init__.__globals__.os }}"],
}


class RecordingBackend(ScriptedBackend):
    """The scripted backend, keeping every request it scores."""

    name = "recording"
    seen: ClassVar[list[ScoreRequest]] = []

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        RecordingBackend.seen.extend(requests)
        return super().score(requests)


def test_code_like_dataset_stays_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(CODE_LIKE) + "\n", encoding="utf-8")
    aunt = template_manipulation(
        "aunt", "My aunt says it is {bait}.", family="authority", directional=True, description="a"
    )
    RecordingBackend.seen.clear()

    run_eval(
        EvalConfig(
            backend="recording",
            dataset="file",
            dataset_options={"path": str(rows)},
            manipulations="aunt",
            question_format="two-option",
            metrics=[],
            out=tmp_path / "run",
            use_cache=False,
        ),
        registry=registry_with(RecordingBackend, aunt),
    )

    texts = [m.content for r in RecordingBackend.seen for m in r.conversation.messages]
    prompts = "\n".join(texts)
    assert "What is {{ 7 * 7 }} and __import__('os').system('touch pwned')?" in prompts
    assert "{question.__class__.__mro__}" in prompts
    assert "My aunt says it is {bait}{0}." in prompts
    assert "${{ cycler.__init__.__globals__.os }}" in prompts
    assert "49" not in prompts
    assert not (tmp_path / "pwned").exists()


def test_chat_template_runs_sandboxed() -> None:
    from jinja2.exceptions import SecurityError

    template = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
    conversation = Conversation(messages=(Message(role="user", content="hi"),))

    with pytest.raises(SecurityError):
        render_chat(template, conversation)


def test_message_content_not_rendered_as_template() -> None:
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    conversation = Conversation(messages=(Message(role="user", content="{{ 7 * 7 }}"),))

    assert render_chat(template, conversation) == "<user>{{ 7 * 7 }}"


# Remote code in the hf backend ------------------------------------------------------


def test_hf_trust_remote_code_defaults_off() -> None:
    from syco_plugin_hf.options import HFOptions

    assert HFOptions().trust_remote_code is False
    assert HFOptions.model_validate({"trust_remote_code": "true"}).trust_remote_code is True


@pytest.mark.slow
@pytest.mark.parametrize("allowed", [False, True])
def test_hf_passes_trust_remote_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allowed: bool
) -> None:
    import transformers
    from syco_plugin_hf.loading import load_model
    from syco_plugin_hf.options import HFOptions

    from sycocore.errors import BackendError

    calls: list[dict[str, Any]] = []

    def record(location: str, **kwargs: Any) -> Any:
        # Stands in for a model repository: records the arguments, then fails as a
        # folder without weights does.
        calls.append(kwargs)
        raise OSError("no weights in this folder")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", record)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", record)
    options = HFOptions(model=str(tmp_path), device="cpu", trust_remote_code=allowed)

    with pytest.raises(BackendError, match="no weights in this folder"):
        load_model(options)

    assert calls
    assert all(call["trust_remote_code"] is allowed for call in calls)


# syco plugins install ---------------------------------------------------------------


def _install(syco_cli: SycoCli, *args: str, in_checkout: bool = True) -> Any:
    if in_checkout:
        syco_cli.cwd = REPO_ROOT
    return syco_cli("plugins", "install", "--dry-run", *args)


def test_install_catalogue_name_uses_checkout(syco_cli: SycoCli) -> None:
    result = _install(syco_cli, "hf")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(REPO_ROOT / "plugins" / "syco-plugin-hf")
    assert "-m pip install" in result.stdout


def test_install_distribution_name_uses_checkout(syco_cli: SycoCli) -> None:
    result = _install(syco_cli, "syco-plugin-openai")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(REPO_ROOT / "plugins" / "syco-plugin-openai")


def test_install_outside_checkout_uses_distribution(syco_cli: SycoCli) -> None:
    result = _install(syco_cli, "llamacpp", in_checkout=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "syco-plugin-llamacpp"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hff", "unknown plugin 'hff'; did you mean 'hf'?"),
        ("requests", "unknown plugin 'requests'"),
        ("git+https://example.invalid/x.git", "unknown plugin 'git+https://example.invalid/x.git'"),
    ],
)
def test_install_unknown_name_rejected(syco_cli: SycoCli, name: str, expected: str) -> None:
    result = _install(syco_cli, name)

    line = assert_one_line_error(result)
    assert expected in line
    assert "Registered: decomposition, hf, llamacpp, manipulations, openai" in line
    assert "pip install" not in result.stdout


def test_install_explicit_path_accepted(syco_cli: SycoCli) -> None:
    folder = syco_cli.cwd / "my-plugin"
    folder.mkdir()
    result = syco_cli("plugins", "install", "--dry-run", "-e", "my-plugin")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["-e", str(folder)]


def test_install_distribution_option_accepted(syco_cli: SycoCli) -> None:
    result = _install(syco_cli, "--distribution", "syco-plugin-someone")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "syco-plugin-someone"


def test_install_name_and_distribution_rejected(syco_cli: SycoCli) -> None:
    result = _install(syco_cli, "hf", "--distribution", "syco-plugin-hf")

    line = assert_one_line_error(result)
    assert "give either a plugin NAME or PATH, or --distribution DIST" in line
