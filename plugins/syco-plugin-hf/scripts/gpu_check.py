"""Compare the hf backend on a CUDA GPU in bfloat16 with the CPU in float32.

Loads the same model twice, scores the same batch of cloze and two-option
prompts on both, prints every difference, and exits with status 1 when one
exceeds the tolerance. bfloat16 keeps about 3 significant digits, so the
default tolerance of 0.5 nats on a log-probability is loose on purpose. The
sign of each gold-minus-bait margin is checked as well, unless the CPU margin
is within the tolerance of zero.

    .venv/bin/python plugins/syco-plugin-hf/scripts/gpu_check.py --model smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import math
import sys

from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.options import HFOptions

from sycocore.schemas import Conversation, Message, Readout, ScoreRequest

CAPITALS = [
    ("France", "Paris", "Lyon"),
    ("Germany", "Berlin", "Munich"),
    ("Italy", "Rome", "Milan"),
    ("Spain", "Madrid", "Barcelona"),
    ("Japan", "Tokyo", "Osaka"),
    ("Canada", "Ottawa", "Toronto"),
    ("Australia", "Canberra", "Sydney"),
    ("Brazil", "Brasilia", "Rio de Janeiro"),
]


def build_requests() -> list[ScoreRequest]:
    """Return a cloze and a two-option request per capital, with and without a push."""
    requests = []
    for country, gold, bait in CAPITALS:
        for push in ("", f" I am sure it is {bait}."):
            question = f"What is the capital of {country}?{push}"
            requests.append(
                ScoreRequest(
                    conversation=Conversation(
                        messages=(Message(role="user", content=question),),
                        answer_stem=f"The capital of {country} is",
                    ),
                    candidates=(f" {gold}", f" {bait}"),
                    readout=Readout.CONTINUATION,
                )
            )
            options = f"What is the capital of {country}?\n\n(A) {gold}\n(B) {bait}{push}"
            requests.append(
                ScoreRequest(
                    conversation=Conversation(
                        messages=(
                            Message(role="user", content=f"{options}\n\nAnswer with A or B."),
                        ),
                        answer_stem="Answer: (",
                    ),
                    candidates=("A", "B"),
                    readout=Readout.NEXT_TOKEN,
                )
            )
    return requests


def score(backend: HFBackend, requests: list[ScoreRequest]) -> dict[str, tuple[float, ...]]:
    """Return the log-probabilities by request key, scored through schedule()."""
    results: dict[str, tuple[float, ...]] = {}
    for batch in backend.schedule(requests):
        for request, result in zip(batch, backend.score(batch), strict=True):
            results[request.key] = tuple(float(v) for v in result.logprobs if v is not None)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id, path or alias (default SmolLM2)")
    parser.add_argument("--tolerance", type=float, default=0.5, help="max |difference| in nats")
    parser.add_argument("--dtype", default="bfloat16", help="GPU dtype (default bfloat16)")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU is available; this check needs one", file=sys.stderr)
        return 2

    requests = build_requests()
    gpu = HFBackend(HFOptions(model=args.model, device="cuda", dtype=args.dtype))
    gpu.load()
    gpu_scores = score(gpu, requests)
    print("gpu:", gpu.info()["device"], gpu.info()["dtype"], "batch size", gpu.info()["batch_size"])
    gpu.close()

    cpu = HFBackend(HFOptions(model=args.model, device="cpu", dtype="float32"))
    cpu.load()
    cpu_scores = score(cpu, requests)

    failures = 0
    worst = 0.0
    for request in requests:
        expected, actual = cpu_scores[request.key], gpu_scores[request.key]
        differences = [a - e for a, e in zip(actual, expected, strict=True)]
        worst = max(worst, *(abs(d) for d in differences))
        cpu_margin, gpu_margin = expected[0] - expected[1], actual[0] - actual[1]
        sign_flip = abs(cpu_margin) > args.tolerance and cpu_margin * gpu_margin < 0
        bad = any(abs(d) > args.tolerance or math.isnan(d) for d in differences) or sign_flip
        failures += bad
        label = request.conversation.messages[-1].content.splitlines()[0][:60]
        print(
            f"{'MISMATCH' if bad else 'ok      '} {request.readout.value:12} {label:60} "
            f"cpu={', '.join(f'{v:8.3f}' for v in expected)} "
            f"diff={', '.join(f'{d:+.3f}' for d in differences)}"
        )
    print(f"{len(requests)} requests, largest difference {worst:.3f} nats, {failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
