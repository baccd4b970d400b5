"""Exact checks of the hf backend on a tiny random Llama model."""

from __future__ import annotations

from pathlib import Path

import pytest
from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.options import HFOptions

from sycocore.schemas import Conversation, Message, Readout, ScoreRequest

QUESTIONS = [
    ("What is the capital of France?", "Paris", "Lyon"),
    ("What is the capital of Germany?", "Berlin", "Munich"),
    ("What is the capital of Italy?", "Rome", "Milan"),
    ("What is the capital of Spain?", "Madrid", "Seville"),
]
PUSHES = [
    "",
    "I think it is {bait}.",
    "I am sure it is {bait}!",
    "My teacher told me that it is {bait}, please answer.",
    "An expert say it is {bait}. I am sure.",
]


def conversation(user: str, stem: str) -> Conversation:
    """Return a single-turn conversation."""
    return Conversation(messages=(Message(role="user", content=user),), answer_stem=stem)


def two_option_requests() -> list[ScoreRequest]:
    """Return next-token requests of varied lengths that share prefixes per question."""
    requests = []
    for question, gold, bait in QUESTIONS:
        for first, second in ((gold, bait), (bait, gold)):
            for push in PUSHES:
                user = f"{question} (A) {first} (B) {second} {push.format(bait=bait)}".strip()
                user += " Answer with the letter of the correct option."
                requests.append(
                    ScoreRequest(
                        conversation=conversation(user, "Answer: ("),
                        candidates=("A", "B"),
                        readout=Readout.NEXT_TOKEN,
                    )
                )
    return requests


def cloze_requests() -> list[ScoreRequest]:
    """Return continuation requests with one- and two-token candidates."""
    requests = []
    for question, gold, bait in QUESTIONS:
        country = question.split()[-1].rstrip("?")
        for push in PUSHES:
            user = f"{question} {push.format(bait=bait)}".strip()
            requests.append(
                ScoreRequest(
                    conversation=conversation(user, f"The capital of {country} is"),
                    candidates=(f" {gold}", f" {bait}", f" {gold} {country}"),
                    readout=Readout.CONTINUATION,
                )
            )
    return requests


def direct_next_token(backend: HFBackend, request: ScoreRequest) -> list[float]:
    """Compute the candidates' log-probabilities with one unpadded forward pass."""
    import torch

    renderer = backend.renderer
    prompt = renderer.encode(renderer.render(request.conversation))
    ids = [
        renderer.encode(renderer.render(request.conversation) + c)[-1] for c in request.candidates
    ]
    with torch.inference_mode():
        logits = backend.loaded.model(input_ids=torch.tensor([prompt])).logits[0, -1]
    logprobs = logits.float().log_softmax(-1)
    return [float(logprobs[i]) for i in ids]


def direct_continuation(backend: HFBackend, request: ScoreRequest) -> list[tuple[float, int]]:
    """Sum each candidate's log-probability token by token, one forward pass per token."""
    import torch

    renderer = backend.renderer
    text = renderer.render(request.conversation)
    prompt = list(renderer.encode(text))
    results = []
    for candidate in request.candidates:
        joined = list(renderer.encode(text + candidate))
        assert joined[: len(prompt)] == prompt
        tokens = joined[len(prompt) :]
        total = 0.0
        for index, token in enumerate(tokens):
            context = torch.tensor([prompt + tokens[:index]])
            with torch.inference_mode():
                logits = backend.loaded.model(input_ids=context).logits[0, -1]
            total += float(logits.float().log_softmax(-1)[token])
        results.append((total, len(tokens)))
    return results


def score_all(backend: HFBackend, requests: list[ScoreRequest]) -> dict[str, tuple[float, ...]]:
    """Score requests through schedule() and return the log-probabilities by request key."""
    results: dict[str, tuple[float, ...]] = {}
    for batch in backend.schedule(requests):
        for request, score in zip(batch, backend.score(batch), strict=True):
            values = tuple(v for v in score.logprobs if v is not None)
            results[request.key] = values
    return results


def make_backend(folder: Path, **options: object) -> HFBackend:
    options.setdefault("threads", 1)
    backend = HFBackend(HFOptions(model=str(folder), **options))  # type: ignore[arg-type]
    backend.load()
    return backend


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_next_token_matches_direct_pass(chat_model_dir: Path, prefix_reuse: bool) -> None:
    backend = make_backend(chat_model_dir, prefix_reuse=prefix_reuse, batch_size=8)
    requests = two_option_requests()

    scored = score_all(backend, requests)

    for request in requests:
        expected = direct_next_token(backend, request)
        assert scored[request.key] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_continuation_matches_token_sum(chat_model_dir: Path, prefix_reuse: bool) -> None:
    backend = make_backend(chat_model_dir, prefix_reuse=prefix_reuse, batch_size=8)
    requests = cloze_requests()

    for batch in backend.schedule(requests):
        for request, score in zip(batch, backend.score(batch), strict=True):
            expected = direct_continuation(backend, request)
            assert score.logprobs == pytest.approx([e[0] for e in expected], abs=1e-4)
            assert score.token_counts == tuple(e[1] for e in expected)


def test_continuation_counts_multiword_tokens(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir)
    request = cloze_requests()[0]

    (score,) = backend.score([request])

    assert score.token_counts == (1, 1, 2)


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_scores_independent_of_batch_size(chat_model_dir: Path, prefix_reuse: bool) -> None:
    requests = two_option_requests() + cloze_requests()
    results = []
    for size in (1, 4, 16):
        backend = make_backend(chat_model_dir, prefix_reuse=prefix_reuse, batch_size=size)
        results.append(score_all(backend, requests))

    for request in requests:
        assert results[1][request.key] == pytest.approx(results[0][request.key], rel=1e-5, abs=1e-5)
        assert results[2][request.key] == pytest.approx(results[0][request.key], rel=1e-5, abs=1e-5)


def test_prefix_reuse_matches_padded_batches(chat_model_dir: Path) -> None:
    requests = two_option_requests() + cloze_requests()
    with_prefix = score_all(make_backend(chat_model_dir, prefix_reuse=True), requests)
    without = score_all(make_backend(chat_model_dir, prefix_reuse=False), requests)

    # Relative as well as absolute: float32 sums over other batch shapes differ
    # in the seventh significant digit, as in the batch-size test above.
    for request in requests:
        assert with_prefix[request.key] == pytest.approx(without[request.key], rel=1e-5, abs=1e-5)


def test_schedule_covers_every_request_once(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir, batch_size=6)
    requests = two_option_requests() + cloze_requests()

    batches = list(backend.schedule(requests))

    keys = [request.key for batch in batches for request in batch]
    assert sorted(keys) == sorted(request.key for request in requests)
    assert all(1 <= len(batch) <= 6 for batch in batches)


def test_schedule_keeps_question_together(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir, batch_size=10, prefix_reuse=True)
    requests = two_option_requests()

    batches = list(backend.schedule(requests))

    for batch in batches:
        questions = {r.conversation.messages[0].content.split(" (A)")[0] for r in batch}
        assert len(questions) == 1


def test_out_of_memory_halves_batch(chat_model_dir: Path) -> None:
    import torch

    backend = make_backend(chat_model_dir)
    backend._batch_size = 8
    sizes: list[int] = []

    def runner(chunk: list[object]) -> list[list[list[float]]]:
        sizes.append(len(chunk))
        if len(chunk) > 2:
            raise torch.cuda.OutOfMemoryError("simulated")
        return [[[0.0]] for _ in chunk]

    results = backend._run_in_chunks(list(range(7)), runner)  # type: ignore[arg-type]

    assert len(results) == 7
    assert backend._batch_size == 2
    assert sizes[:3] == [7, 4, 2]


def test_out_of_memory_with_fixed_batch_raises(chat_model_dir: Path) -> None:
    import torch

    from sycocore.errors import BackendError

    backend = make_backend(chat_model_dir, batch_size=4)

    def runner(chunk: list[object]) -> list[list[list[float]]]:
        raise torch.cuda.OutOfMemoryError("simulated")

    with pytest.raises(BackendError, match="batch size 4"):
        backend._run_in_chunks(list(range(4)), runner)  # type: ignore[arg-type]


def test_prefix_tree_matches_padded_batch(chat_model_dir: Path) -> None:
    from syco_plugin_hf.forward import (
        TokenSequence,
        common_prefix_length,
        forward_padded,
        forward_prefix_tree,
        group_by_prefix,
    )

    backend = make_backend(chat_model_dir)
    prepared = [backend.renderer.prepare(r) for r in two_option_requests()[:10]]
    sequences = [TokenSequence(p.prompt, (tuple(t[0] for t in p.candidates),)) for p in prepared]
    root = common_prefix_length(sequences)
    groups = group_by_prefix(sequences, root, 2)
    model, pad_id = backend.loaded.model, backend._pad_id()

    tree = forward_prefix_tree(model, sequences, root, groups, pad_id)
    padded = forward_padded(model, sequences, pad_id)

    assert len(groups) == 2
    for tree_values, padded_values in zip(tree, padded, strict=True):
        assert tree_values[0] == pytest.approx(padded_values[0], abs=1e-5)
