"""Fixtures: a scripted OpenAI-compatible server and a real llama.cpp server, both on 127.0.0.1."""

from __future__ import annotations

import collections
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from syco_plugin_openai.canary import CANARY_ITEMS

ALPHABET_STEM = "A B C D E F G H"
TRUE_ANSWERS = {gold for _, gold, _ in CANARY_ITEMS}
_OPTIONS = re.compile(r"\(A\) (?P<a>[^\n]+)\n\(B\) (?P<b>[^\n]+)")


@dataclass
class Reply:
    """One scripted response: status, JSON object or raw text, headers, delay before responding."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    body: Any
    authorization: str | None
    time: float


class ScriptedServer:
    """An OpenAI-compatible server with a toy model and a queue of scripted faults per path.

    The toy model continues the alphabet stem with ``I`` and answers two-option
    questions by picking the option in :data:`TRUE_ANSWERS`, so the probe and
    the canary pass unless a test changes its behaviour. Replies pushed with
    :meth:`push` are served first, in order.
    """

    def __init__(self) -> None:
        self.continues_assistant = True
        self.chat_logprobs = True
        self.completion_logprobs = True
        self.props: dict[str, Any] | None = None
        self.letter_top: list[tuple[str, float]] | None = None
        self.at_chance = False
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0
        self._queues: dict[str, collections.deque[Reply]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL ending in ``/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def push(self, path: str, *replies: dict[str, Any]) -> None:
        """Queue replies for ``path`` (e.g. ``/v1/chat/completions``), served before the model.

        Each reply is a dict of :class:`Reply` fields.
        """
        with self._lock:
            self._queues[path].extend(Reply(**reply) for reply in replies)

    def requests_to(self, path: str) -> list[Seen]:
        """Return the requests received on ``path``."""
        return [seen for seen in self.seen if seen.path == path]

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # The toy model ---------------------------------------------------------------------

    def _answer(self, text: str) -> tuple[str, list[tuple[str, float]]]:
        """Return the next token and the top-k list after ``text``."""
        if text.endswith(ALPHABET_STEM):
            return " I", [(" I", -0.05), (" J", -3.5), ("\n", -4.0), (" ", -5.0)]
        fillers = [("The", -4.0), (" ", -4.5), ("1", -5.0), ("C", -5.5)]
        if self.letter_top is not None:
            top = self.letter_top
        elif self.at_chance:
            top = [("A", -0.7), ("B", -0.7), *fillers]
        else:
            match = _OPTIONS.search(text)
            gold_is_a = match is None or match.group("a") in TRUE_ANSWERS
            top = [("A", -0.1), ("B", -2.5)] if gold_is_a else [("B", -0.1), ("A", -2.5)]
            top = [*top, *fillers]
        return max(top, key=lambda entry: entry[1])[0], top

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        last = messages[-1]
        continued = last["role"] == "assistant" and (
            self.continues_assistant or body.get("continue_final_message") is True
        )
        if continued:
            context = "\n".join(m["content"] for m in messages)
        else:
            # A new assistant turn: the toy model starts the alphabet or a new answer.
            context = "\n".join(m["content"] for m in messages if m["role"] == "user")
        token, top = self._answer(context)
        if not continued and ALPHABET_STEM in "\n".join(m["content"] for m in messages):
            token, top = "A", [("A", -0.2), ("Sure", -2.0)]
        content = token if body.get("max_tokens", 16) == 1 else token + ") done"
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}}
        if body.get("logprobs") and self.chat_logprobs:
            k = int(body.get("top_logprobs") or 0)
            choice["logprobs"] = {
                "content": [
                    {
                        "token": token,
                        "logprob": dict(top)[token],
                        "top_logprobs": [
                            {"token": text, "logprob": value, "bytes": None}
                            for text, value in top[:k]
                        ],
                    }
                ]
            }
        return {"id": "chat-1", "object": "chat.completion", "choices": [choice]}

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        token, top = self._answer(body["prompt"])
        text = token if body.get("max_tokens", 16) == 1 else token + ") done"
        choice: dict[str, Any] = {"index": 0, "text": text}
        k = body.get("logprobs")
        if k and self.completion_logprobs:
            choice["logprobs"] = {
                "tokens": [token],
                "token_logprobs": [dict(top)[token]],
                "top_logprobs": [dict(top[: int(k)])],
            }
        return {"id": "cmpl-1", "object": "text_completion", "choices": [choice]}

    def _reply(self, method: str, path: str, body: Any) -> Reply:
        with self._lock:
            queue = self._queues.get(path)
            if queue:
                return queue.popleft()
        if method == "GET" and path == "/v1/models":
            return Reply(body={"object": "list", "data": [{"id": "toy", "object": "model"}]})
        if method == "GET" and path == "/props":
            return Reply(body=self.props) if self.props is not None else Reply(404, {"error": "no"})
        if method == "POST" and path == "/v1/chat/completions":
            return Reply(body=self._chat(body), delay=self.delay)
        if method == "POST" and path == "/v1/completions":
            return Reply(body=self._completion(body), delay=self.delay)
        return Reply(404, {"error": {"message": f"no route {path}"}})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                authorization = self.headers.get("Authorization")
                with server._lock:
                    server.seen.append(
                        Seen(method, self.path, body, authorization, time.monotonic())
                    )
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    reply = server._reply(method, self.path, body)
                    if reply.delay:
                        time.sleep(reply.delay)
                    self._send(reply, authorization)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, reply: Reply, authorization: str | None) -> None:
                body = reply.body
                if isinstance(body, str):
                    # Scripted bodies may quote the bearer token, as careless servers do.
                    token = (authorization or "").removeprefix("Bearer ")
                    payload = body.replace("{token}", token).encode()
                else:
                    payload = json.dumps(body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A fresh scripted server per test."""
    server = ScriptedServer()
    yield server
    server.close()


@pytest.fixture
def make_backend(scripted_server: ScriptedServer) -> Iterator[Callable[..., Any]]:
    """Build, load and finally close an openai backend aimed at the scripted server."""
    from syco_plugin_openai import OpenAIBackend, OpenAIOptions

    backends: list[OpenAIBackend] = []

    def build(load: bool = True, **options: Any) -> OpenAIBackend:
        values: dict[str, Any] = {
            "base_url": scripted_server.url,
            "model": "toy",
            "retry_backoff": 0.01,
            "timeout": 5.0,
        }
        values.update(options)
        backend = OpenAIBackend(OpenAIOptions(**values))
        backends.append(backend)
        if load:
            backend.load()
        return backend

    yield build
    for backend in backends:
        backend.close()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def closed_port_url() -> str:
    """A base URL on 127.0.0.1 whose port refuses connections."""
    return f"http://127.0.0.1:{free_port()}/v1"


@dataclass(frozen=True)
class LlamaServer:
    """A running ``python -m llama_cpp.server`` and the model it serves."""

    url: str
    model_path: Path
    chat_template: str


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Start llama-cpp-python's server with the bundled SmolLM2 GGUF on a free local port."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    import llama_cpp

    from sycocore.models import DEFAULT_MODEL, get_alias

    alias = get_alias(DEFAULT_MODEL)
    assert alias is not None
    path = alias.resolve()
    metadata = llama_cpp.Llama(str(path), vocab_only=True, verbose=False).metadata
    template = metadata["tokenizer.chat_template"]

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(path),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
    ]  # fmt: skip
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None:
                error = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with status {process.returncode}: {error}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer {url}/models within 90 s")
            time.sleep(0.5)
        yield LlamaServer(url=url, model_path=path, chat_template=template)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
