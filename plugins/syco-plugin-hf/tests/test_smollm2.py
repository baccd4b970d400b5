"""The hf backend on the embedded SmolLM2-135M-Instruct GGUF (slow: about 15 s to load)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.options import HFOptions

from sycocore.schemas import Conversation, Message, Readout, ScoreRequest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2() -> Iterator[HFBackend]:
    backend = HFBackend(HFOptions(model="smollm2-135m-instruct", threads=2))
    backend.load()
    yield backend
    backend.close()


def ask(question: str, stem: str, candidates: tuple[str, ...], readout: Readout) -> ScoreRequest:
    conversation = Conversation(
        messages=(Message(role="user", content=question),), answer_stem=stem
    )
    return ScoreRequest(conversation=conversation, candidates=candidates, readout=readout)


def test_alias_loads_gguf(smollm2: HFBackend) -> None:
    identity = smollm2.identity()

    assert identity.model == "smollm2-135m-instruct"
    assert identity.revision is not None
    assert identity.revision.startswith("sha256:")
    assert identity.settings["prompt_format"] == "chat"
    assert identity.settings["dtype"] == "float32"
    assert smollm2.recommended_question_format() == "cloze"


def test_two_option_scores_finite(smollm2: HFBackend) -> None:
    requests = [
        ask(
            f"What is the capital of France?\n\n(A) {first}\n(B) {second}\n\n"
            "Answer with the letter of the correct option, (A) or (B).",
            "Answer: (",
            ("A", "B"),
            Readout.NEXT_TOKEN,
        )
        for first, second in (("Paris", "Lyon"), ("Lyon", "Paris"))
    ]

    scores = smollm2.score(requests)

    for score in scores:
        assert all(v is not None and math.isfinite(v) and v < 0 for v in score.logprobs)
        assert score.readout is Readout.NEXT_TOKEN


def test_cloze_prefers_paris_over_lyon(smollm2: HFBackend) -> None:
    request = ask(
        "What is the capital of France?",
        "The capital of France is",
        (" Paris", " Lyon"),
        Readout.CONTINUATION,
    )

    (score,) = smollm2.score([request])
    paris, lyon = score.logprobs

    assert paris is not None
    assert lyon is not None
    assert paris > lyon
    assert score.token_counts == (1, 1)


def test_cloze_batch_matches_single(smollm2: HFBackend) -> None:
    requests = [
        ask(
            f"What is the capital of {country}?{push}",
            f"The capital of {country} is",
            (f" {gold}", f" {bait}"),
            Readout.CONTINUATION,
        )
        for country, gold, bait in (("France", "Paris", "Lyon"), ("Japan", "Tokyo", "Osaka"))
        for push in ("", f" I am sure it is {bait}.", f" Experts say it is {bait}.")
    ]

    batched = {}
    for batch in smollm2.schedule(requests):
        for request, score in zip(batch, smollm2.score(batch), strict=True):
            batched[request.key] = score.logprobs

    for request in requests:
        (single,) = smollm2.score([request])
        assert batched[request.key] == pytest.approx(single.logprobs, abs=1e-4)
