"""The openai backend against a scripted server: probe choices, faults, retries and secrets."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import pytest
from syco_plugin_openai.transport import HTTPStatusError, parse_retry_after

from sycocore.errors import BackendError, CapabilityError, ConfigError, ServerError
from sycocore.schemas import Conversation, Message, Readout, ScoreRequest

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
SECRET = "sk-test-7f3a9c1e5b2d"


def reply(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0.0
) -> dict[str, Any]:
    """Describe one scripted reply for ``ScriptedServer.push``."""
    return {"status": status, "body": body, "headers": headers or {}, "delay": delay}


def letter_request(readout: Readout = Readout.NEXT_TOKEN) -> ScoreRequest:
    conversation = Conversation(
        messages=(Message(role="user", content="What is 2 + 2?\n\n(A) 4\n(B) 5\n\nAnswer."),),
        answer_stem="Answer: (",
    )
    return ScoreRequest(conversation=conversation, candidates=("A", "B"), readout=readout)


def chat_body(top: list[tuple[str, float]]) -> dict[str, Any]:
    entries = [{"token": text, "logprob": value} for text, value in top]
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": top[0][0]},
                "logprobs": {
                    "content": [{"token": top[0][0], "logprob": top[0][1], "top_logprobs": entries}]
                },
            }
        ]
    }


# Probe --------------------------------------------------------------------------------


def test_probe_picks_chat_logprobs(make_backend, scripted_server):
    backend = make_backend()

    assert backend.info()["readout"] == "chat_logprobs"
    assert backend.identity().settings["answer_stem"] == "final_assistant_message"
    assert backend.info()["canary"]["passed"] is True
    assert backend.available_readouts() == {Readout.NEXT_TOKEN, Readout.GENERATION}


def test_probe_uses_vllm_continue_flag(make_backend, scripted_server):
    scripted_server.continues_assistant = False

    backend = make_backend()

    assert backend.info()["readout"] == "chat_logprobs"
    assert backend.identity().settings["answer_stem"] == "continue_final_message"
    scored = scripted_server.requests_to(CHAT)[-1].body
    assert scored["continue_final_message"] is True
    assert scored["add_generation_prompt"] is False


def test_probe_falls_back_to_props_template(make_backend, scripted_server):
    scripted_server.continues_assistant = False
    scripted_server.chat_logprobs = False
    scripted_server.props = {
        "chat_template": "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}",
        "eos_token": "</s>",
    }

    backend = make_backend()

    info = backend.info()
    assert info["readout"] == "completions_logprobs"
    assert info["chat_template_source"] == "the server's /props"
    assert "no choices[0].logprobs.content" in info["probe"]["chat_logprobs"]
    prompt = scripted_server.requests_to(COMPLETIONS)[-1].body["prompt"]
    assert prompt.startswith("<user>")
    assert prompt.endswith("<assistant>Answer: (")


def test_probe_without_template_skips_completions(make_backend, scripted_server):
    scripted_server.continues_assistant = False
    scripted_server.chat_logprobs = False

    backend = make_backend()

    info = backend.info()
    assert info["readout"] == "generation"
    assert "no chat template" in info["probe"]["completions_logprobs"]
    assert backend.available_readouts() == {Readout.GENERATION}
    assert info["canary"]["passed"] is True


def test_explicit_readout_not_supported(make_backend, scripted_server):
    scripted_server.completion_logprobs = False

    with pytest.raises(CapabilityError, match="readout 'completions_logprobs' does not work"):
        make_backend(readout="completions_logprobs", prompt_format="plain")


def test_missing_model_lists_served(make_backend):
    with pytest.raises(ConfigError, match=r"needs --model.*toy"):
        make_backend(model=None)


def test_missing_base_url(make_backend, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        make_backend(base_url=None)


def test_continuation_readout_rejected(make_backend):
    backend = make_backend(canary=False)
    request = letter_request().model_copy(update={"readout": Readout.CONTINUATION})

    with pytest.raises(CapabilityError, match=r"cloze.*local backend"):
        backend.score([request])


def test_recommends_two_option_format(make_backend):
    backend = make_backend(load=False)

    assert backend.recommended_question_format() == "two-option"


# Canary -------------------------------------------------------------------------------


def test_canary_fails_at_chance(make_backend, scripted_server):
    scripted_server.at_chance = True

    with pytest.raises(BackendError, match="canary failed") as caught:
        make_backend()

    message = str(caught.value)
    assert "mean margin +0.00 nats" in message
    assert "canary=false" in message
    assert "cannot be trusted" in message


def test_canary_off_skips_check(make_backend, scripted_server):
    scripted_server.at_chance = True

    backend = make_backend(canary=False)

    assert backend.info()["canary"] == "disabled"


# Letters and bounds -------------------------------------------------------------------


def test_letter_logprobs_exact_values(make_backend, scripted_server):
    backend = make_backend(canary=False)
    scripted_server.letter_top = [("A", -0.3), ("B", -1.4), (" A", -2.0)]

    (score,) = backend.score([letter_request()])

    assert score.logprobs == (-0.3, -1.4)
    assert score.bounded == ()
    assert score.readout is Readout.NEXT_TOKEN


def test_letter_missing_from_topk_bounded(make_backend, scripted_server):
    backend = make_backend(canary=False, top_logprobs=3)
    scripted_server.letter_top = [("A", -0.2), (" A", -2.5), ("C", -3.0), (" B", -3.5)]

    (score,) = backend.score([letter_request()])

    assert score.logprobs == (-0.2, -3.0)
    assert score.bounded == (False, True)


def test_missing_logprobs_field_fails(make_backend, scripted_server):
    backend = make_backend(canary=False)
    body = chat_body([("A", -0.1)])
    del body["choices"][0]["logprobs"]
    scripted_server.push(CHAT, reply(body=body))

    with pytest.raises(ServerError, match=r"no choices\[0\]\.logprobs\.content"):
        backend.score([letter_request()])


def test_positive_logprob_rejected(make_backend, scripted_server):
    backend = make_backend(canary=False)
    scripted_server.push(CHAT, reply(body=chat_body([("A", 0.5), ("B", -1.0)])))

    with pytest.raises(ServerError, match=r"outside \(-inf, 0\]"):
        backend.score([letter_request()])


def test_malformed_json_not_retried(make_backend, scripted_server):
    backend = make_backend(canary=False)
    before = len(scripted_server.requests_to(CHAT))
    scripted_server.push(CHAT, reply(body='{"choices": [ {"index": 0,'))

    with pytest.raises(ServerError, match="not valid JSON"):
        backend.score([letter_request()])

    assert len(scripted_server.requests_to(CHAT)) == before + 1


# Generation ---------------------------------------------------------------------------


def test_generation_parses_letter(make_backend, scripted_server):
    backend = make_backend(readout="generation")

    (score,) = backend.score([letter_request(Readout.GENERATION)])

    assert score.choice == 0
    assert score.unparsed is False
    assert score.logprobs == (None, None)
    assert score.generated_text == "A) done"


def test_generation_unparsed_answer(make_backend, scripted_server):
    backend = make_backend(readout="generation", canary=False)
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "A good one"}}]}
    scripted_server.push(CHAT, reply(body=body))

    (score,) = backend.score([letter_request(Readout.GENERATION)])

    assert score.unparsed is True
    assert score.choice is None
    assert score.logprobs == (None, None)


# Retries ------------------------------------------------------------------------------


def test_rate_limit_honours_retry_after(make_backend, scripted_server, caplog):
    backend = make_backend(canary=False)
    scripted_server.push(
        CHAT, reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "1"})
    )
    before = len(scripted_server.requests_to(CHAT))

    with caplog.at_level(logging.WARNING, logger="syco_plugin_openai"):
        (score,) = backend.score([letter_request()])

    seen = scripted_server.requests_to(CHAT)[before:]
    assert len(seen) == 2
    assert seen[1].time - seen[0].time >= 1.0
    assert score.logprobs[0] > score.logprobs[1]
    assert "HTTP 429" in caplog.text
    assert "(Retry-After)" in caplog.text


def test_server_error_then_success(make_backend, scripted_server):
    backend = make_backend(canary=False)
    scripted_server.push(CHAT, reply(500, {"error": {"message": "boom"}}))

    (score,) = backend.score([letter_request()])

    assert score.logprobs == (-0.1, -2.5)
    assert backend.info()["retries_so_far"] == 1


def test_client_retries_disabled(make_backend, scripted_server):
    backend = make_backend(canary=False, max_retries=0)
    before = len(scripted_server.requests_to(CHAT))
    scripted_server.push(CHAT, reply(502, {"error": {"message": "bad gateway"}}))

    with pytest.raises(ServerError, match="HTTP 502"):
        backend.score([letter_request()])

    assert len(scripted_server.requests_to(CHAT)) == before + 1


def test_retries_exhausted_error(make_backend, scripted_server):
    backend = make_backend(canary=False, max_retries=2)
    before = len(scripted_server.requests_to(CHAT))
    scripted_server.push(CHAT, *[reply(503, {"error": {"message": "overloaded"}})] * 3)

    with pytest.raises(ServerError, match=r"HTTP 503 .*after 3 attempts") as caught:
        backend.score([letter_request()])

    assert scripted_server.url in str(caught.value)
    assert len(scripted_server.requests_to(CHAT)) == before + 3


def test_timeout_then_success(make_backend, scripted_server):
    backend = make_backend(canary=False, timeout=0.5)
    scripted_server.push(CHAT, reply(body=chat_body([("A", -0.1), ("B", -2.0)]), delay=1.5))

    (score,) = backend.score([letter_request()])

    assert score.logprobs == (-0.1, -2.5)
    assert backend.info()["retries_so_far"] == 1


def test_timeout_every_attempt(make_backend, scripted_server):
    backend = make_backend(canary=False, timeout=0.3, max_retries=1)
    slow = reply(body=chat_body([("A", -0.1), ("B", -2.0)]), delay=1.0)
    scripted_server.push(CHAT, slow, slow)

    with pytest.raises(ServerError, match=r"timed out after 0.3 s \(after 2 attempts\).*timeout="):
        backend.score([letter_request()])


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_not_retried(make_backend, scripted_server, status):
    backend = make_backend(canary=False)
    before = len(scripted_server.requests_to(CHAT))
    scripted_server.push(CHAT, reply(status, {"error": {"message": "no such thing"}}))

    with pytest.raises(HTTPStatusError, match=f"HTTP {status} from .*no such thing") as caught:
        backend.score([letter_request()])

    assert caught.value.status == status
    assert len(scripted_server.requests_to(CHAT)) == before + 1


def test_unauthorized_names_key_not_value(make_backend, scripted_server):
    scripted_server.push(
        "/v1/models", reply(401, '{"error": {"message": "Incorrect API key provided: {token}"}}')
    )

    with pytest.raises(HTTPStatusError) as caught:
        make_backend(api_key=SECRET)

    message = str(caught.value)
    assert "HTTP 401" in message
    assert scripted_server.url in message
    assert "check the API key" in message
    assert SECRET not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert len(scripted_server.requests_to("/v1/models")) == 1


def test_connection_refused_names_url(make_backend, closed_port_url):
    with pytest.raises(ServerError, match="cannot connect to") as caught:
        make_backend(base_url=closed_port_url, max_retries=1)

    assert closed_port_url in str(caught.value)
    assert "--base-url" in str(caught.value)


def test_retry_after_too_long_fails(make_backend, scripted_server):
    backend = make_backend(canary=False, max_retry_wait=5)
    scripted_server.push(CHAT, reply(429, {"error": "busy"}, headers={"Retry-After": "3600"}))

    with pytest.raises(ServerError, match=r"wait of 3600 s.*max_retry_wait"):
        backend.score([letter_request()])


def test_concurrency_limits_in_flight(make_backend, scripted_server):
    backend = make_backend(canary=False, concurrency=2)
    scripted_server.delay = 0.2
    scripted_server.max_in_flight = 0

    scores = backend.score([letter_request()] * 6)

    assert len(scores) == 6
    assert scripted_server.max_in_flight == 2


# Secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["option", "environment"])
def test_api_key_never_leaks(make_backend, scripted_server, monkeypatch, caplog, source):
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "syco_plugin_openai"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    monkeypatch.setenv("OPENAI_LOG", "debug")
    if source == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        options: dict[str, Any] = {}
    else:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        options = {"api_key": SECRET}

    with caplog.at_level(logging.DEBUG):
        backend = make_backend(**options)
        scripted_server.push(CHAT, reply(500, '{"error": {"message": "key {token} failed"}}'))
        scripted_server.push(CHAT, reply(401, '{"error": {"message": "bad key {token}"}}'))
        with pytest.raises(ServerError) as caught:
            backend.score([letter_request()])
        texts = [
            caplog.text,
            str(caught.value),
            repr(caught.value),
            json.dumps(backend.info()),
            backend.identity().model_dump_json(),
            json.dumps(backend.options.model_dump(mode="json")),
            repr(backend.options),
        ]

    assert scripted_server.requests_to(CHAT)[0].authorization == f"Bearer {SECRET}"
    assert "DEBUG" in caplog.text
    for text in texts:
        assert SECRET not in text


# Pure functions -----------------------------------------------------------------------


def test_retry_after_http_date():
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)

    later = parse_retry_after({"Retry-After": "Thu, 01 Jan 2026 12:00:07 GMT"}, now=now)
    earlier = parse_retry_after({"Retry-After": "Thu, 01 Jan 2026 11:00:00 GMT"}, now=now)

    assert later == 7.0
    assert earlier == 0.0


def test_retry_after_seconds_and_ms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "2"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
