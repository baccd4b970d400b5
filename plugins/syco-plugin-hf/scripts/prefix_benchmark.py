"""Measure the hf backend's throughput with and without prefix reuse.

The requests are realistic: questions of the built-in ``countries`` dataset
under the neutral prompt and every registered manipulation, in the cloze and
the two-option formats. Each setting has a backend of its own on the same model
file, and the two take turns.
The script prints prompts per second for each setting and the largest
difference between their log-probabilities.

    .venv/bin/python plugins/syco-plugin-hf/scripts/prefix_benchmark.py --items 6 --threads 2
"""

from __future__ import annotations

import argparse
import time

from syco_plugin_hf.backend import HFBackend
from syco_plugin_hf.options import HFOptions

from sycocore.formats import get_question_format
from sycocore.manipulations import ManipulationContext
from sycocore.plugins import get_registry
from sycocore.schemas import Case, ScoreRequest


def build_requests(format_name: str, items: int) -> list[ScoreRequest]:
    """Return the de-duplicated requests of ``items`` countries questions, first bait each."""
    registry = get_registry()
    dataset_class = registry.dataset("countries")
    dataset = dataset_class(dataset_class.Options())
    question_format = get_question_format(format_name)
    manipulations = [m for m in registry.manipulations() if not m.condition.needs_neutral_answer]
    requests: dict[str, ScoreRequest] = {}
    for index, item in enumerate(dataset.load()):
        if index == items:
            break
        case = Case(item=item, bait=item.baits[0])
        for order in question_format.orders:
            formatted = question_format.format(case, order)
            context = ManipulationContext(
                case=case,
                order=order,
                gold_label=formatted.gold_label,
                bait_label=formatted.bait_label,
            )
            conversations = [formatted.parts.to_conversation()]
            conversations += [m.build(formatted.parts, context) for m in manipulations]
            for conversation in conversations:
                request = ScoreRequest(
                    conversation=conversation,
                    candidates=formatted.candidates,
                    readout=question_format.readout,
                )
                requests[request.key] = request
    return list(requests.values())


def measure(
    backend: HFBackend, requests: list[ScoreRequest]
) -> tuple[float, float, dict[str, tuple[float | None, ...]]]:
    """Score every request; return prompts per wall-clock second, per CPU second, and the scores.

    CPU time counts only this process, so it varies less than wall-clock time
    on a machine that other processes share.
    """
    results: dict[str, tuple[float | None, ...]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in backend.schedule(requests):
        for request, score in zip(batch, backend.score(batch), strict=True):
            results[request.key] = score.logprobs
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(requests) / wall, len(requests) / cpu, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model id, path or alias (default SmolLM2)")
    parser.add_argument("--items", type=int, default=6, help="questions per format")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="sequences per batch (default: automatic)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per setting")
    args = parser.parse_args()

    backends = {}
    for reuse in (False, True):
        options = HFOptions(
            model=args.model,
            threads=args.threads,
            batch_size=args.batch_size,
            dtype="float32",
            prefix_reuse=reuse,
        )
        backends[reuse] = HFBackend(options)
        backends[reuse].load()
    print(f"prefix reuse: {backends[True].info()['prefix_reuse']}", flush=True)
    for format_name in ("cloze", "two-option"):
        requests = build_requests(format_name, args.items)
        rates: dict[bool, list[float]] = {True: [], False: []}
        cpu_rates: dict[bool, list[float]] = {True: [], False: []}
        scores: dict[bool, dict[str, tuple[float | None, ...]]] = {}
        for _ in range(args.repeats):
            for reuse in (False, True):
                rate, cpu_rate, scores[reuse] = measure(backends[reuse], requests)
                rates[reuse].append(rate)
                cpu_rates[reuse].append(cpu_rate)
        difference = max(
            abs(a - b)
            for key in scores[True]
            for a, b in zip(scores[True][key], scores[False][key], strict=True)
            if a is not None and b is not None
        )
        print(
            f"{format_name}: {len(requests)} prompts; "
            f"without prefix reuse {max(rates[False]):.2f} prompts/s "
            f"({max(cpu_rates[False]):.2f} per CPU second), "
            f"with {max(rates[True]):.2f} prompts/s "
            f"({max(cpu_rates[True]):.2f} per CPU second), best of {args.repeats}; "
            f"largest difference {difference:.2e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
