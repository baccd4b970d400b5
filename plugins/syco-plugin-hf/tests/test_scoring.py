"""Exact checks of the hf backend on a tiny random Llama model."""

from __future__ import annotations

from pathlib import Path

import pytest
from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.forward import (
    TokenSequence,
    build_token_tree,
    forward_padded,
    forward_token_tree,
    split_by_nodes,
)
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


def prepared_sequences(backend: HFBackend) -> list[TokenSequence]:
    """Return the sequences that score() builds for the two-option and cloze requests."""
    return [
        sequence
        for request in two_option_requests() + cloze_requests()
        for sequence in backend.renderer.prepare(request).sequences(request.readout)
    ]


def test_backend_uses_token_tree(chat_model_dir: Path) -> None:
    assert make_backend(chat_model_dir).info()["prefix_reuse"] == "token tree"
    without = make_backend(chat_model_dir, prefix_reuse=False)
    assert without.info()["prefix_reuse"] == "off: prefix_reuse is false"


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_token_tree_matches_padded_batch(chat_model_dir: Path, attention: str) -> None:
    backend = make_backend(chat_model_dir)
    model, pad_id = backend.loaded.model, backend._pad_id()
    model.set_attn_implementation(attention)
    sequences = prepared_sequences(backend)[::3]

    tree = forward_token_tree(model, sequences)
    padded = forward_padded(model, sequences, pad_id)

    assert build_token_tree(sequences).reads
    for tree_values, padded_values in zip(tree, padded, strict=True):
        assert len(tree_values) == len(padded_values)
        for tree_row, padded_row in zip(tree_values, padded_values, strict=True):
            assert tree_row == pytest.approx(padded_row, rel=1e-5, abs=1e-5)


def test_token_tree_shares_prefixes() -> None:
    sequences = [
        TokenSequence((1, 2, 3, 4), ((5,),)),
        TokenSequence((1, 2, 7), ((5,), (6,))),
        TokenSequence((9, 2), ((5,),)),
        TokenSequence((1, 2, 3, 4), ((6,),)),
    ]

    tree = build_token_tree(sequences)

    # 1-2-3-4 and 1-2-7 share 1-2; the repeated sequence adds no node.
    assert len(tree.tokens) == 7
    assert sorted(tree.tokens) == [1, 2, 2, 3, 4, 7, 9]
    for node, parent in enumerate(tree.parents):
        assert parent < node
        assert tree.depths[node] == (tree.depths[parent] + 1 if parent >= 0 else 0)
    read_tokens = [tree.tokens[node] for node in tree.reads]
    assert read_tokens == [4, 2, 7, 2, 4]


@pytest.mark.parametrize("max_nodes", [1, 20, 60, 100_000])
def test_split_by_nodes_covers_each_sequence_once(chat_model_dir: Path, max_nodes: int) -> None:
    backend = make_backend(chat_model_dir)
    sequences = prepared_sequences(backend)

    groups = list(split_by_nodes(sequences, max_nodes))

    assert sorted(index for group in groups for index in group) == list(range(len(sequences)))
    for group in groups:
        nodes = len(build_token_tree([sequences[index] for index in group]).tokens)
        first = len(sequences[group[0]].ids)
        assert nodes <= max(max_nodes, first + max_nodes // 4)
    if max_nodes == 100_000:
        assert len(groups) == 1


def test_long_prompts_still_share_prefix() -> None:
    base = tuple(range(1000, 1600))
    sequences = [TokenSequence((*base, i, j), ((1,),)) for i in range(3) for j in range(2)]

    groups = list(split_by_nodes(sequences, 512))

    assert len(groups) == 1
    assert len(build_token_tree(sequences).tokens) == 609


@pytest.mark.parametrize("ids", [(), (1,)])
def test_token_tree_rejects_too_many_reads(ids: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="read positions"):
        build_token_tree([TokenSequence(ids, ((5,), (6,)))])


def test_scores_equal_at_any_tree_size(chat_model_dir: Path) -> None:
    requests = two_option_requests() + cloze_requests()
    reference = score_all(make_backend(chat_model_dir, prefix_reuse=False), requests)
    backend = make_backend(chat_model_dir)
    backend._tree_nodes = 40

    small_trees = score_all(backend, requests)

    for request in requests:
        assert small_trees[request.key] == pytest.approx(reference[request.key], rel=1e-5, abs=1e-5)


def test_attention_without_custom_masks_turns_reuse_off(chat_model_dir: Path) -> None:
    backend = make_backend(chat_model_dir)
    backend.loaded.model.config._attn_implementation = "flash_attention_2"

    assert backend._check_token_tree() == (
        "off: attention implementation 'flash_attention_2' takes no token-tree mask"
    )


def test_mask_that_changes_scores_turns_reuse_off(
    chat_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from syco_plugin_hf import backend as backend_module

    backend = make_backend(chat_model_dir)

    def shifted(model: object, sequences: list[TokenSequence]) -> list[list[list[float]]]:
        values = forward_token_tree(model, sequences)
        return [[[v + 1.0 for v in row] for row in rows] for rows in values]

    monkeypatch.setattr(backend_module, "forward_token_tree", shifted)

    status = backend._check_token_tree()

    assert status.startswith("off: token-tree check differed by 1")
    assert "scoring without prefix reuse" in caplog.text


def test_failing_tree_pass_turns_reuse_off(
    chat_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from syco_plugin_hf import backend as backend_module

    backend = make_backend(chat_model_dir)

    def failing(model: object, sequences: list[TokenSequence]) -> list[list[list[float]]]:
        raise RuntimeError("mask shape rejected\nsecond line")

    monkeypatch.setattr(backend_module, "forward_token_tree", failing)

    status = backend._check_token_tree()

    assert status == "off: the token-tree forward pass failed (RuntimeError: mask shape rejected)"
    assert "scoring without prefix reuse" in caplog.text


def test_sequences_past_window_run_padded(
    chat_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syco_plugin_hf import backend as backend_module

    backend = make_backend(chat_model_dir)
    sequences = prepared_sequences(backend)
    longest = max(len(s.ids) for s in sequences)
    trees: list[int] = []

    def counted(model: object, part: list[TokenSequence]) -> list[list[list[float]]]:
        trees.append(len(part))
        return forward_token_tree(model, part)

    monkeypatch.setattr(backend_module, "forward_token_tree", counted)
    backend._window = longest
    backend._run_trees(sequences)
    assert sum(trees) == len(sequences)

    trees.clear()
    backend._window = longest - 1
    results = backend._run_trees(sequences)
    assert sum(trees) < len(sequences)
    assert all(results)
