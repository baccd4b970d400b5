"""Throughput, peak memory and start-up time of syco's local backends and their peers.

Every entry scores the same two-option prompts of the same model, the bundled
SmolLM2-135M-Instruct, in a subprocess of its own, so that its peak resident
memory and its start-up time are its own. The prompts are the ones the engine
builds for the ``countries`` dataset under the neutral condition and the 13
study manipulations, in both option orders, rendered with the model's chat
template exactly as the hf backend renders them.

Entries (``--only`` takes a comma list of these names):

- ``syco-hf``, ``syco-llamacpp``: ``run_eval`` with the two-option format and
  the score cache off; ``syco-hf-cloze``, ``syco-llamacpp-cloze``: the same in
  the cloze format (one order, so half the prompts);
- ``lm-eval-b1``, ``lm-eval-b16``, ``lm-eval-auto``: lm-evaluation-harness's
  ``HFLM`` scoring each prompt as two loglikelihood requests (the letters);
- ``transformers-b1``, ``transformers-b16``: a plain transformers loop with
  left padding that reads the logits of the last position;
- ``llama-cpp-loop``: a plain llama-cpp-python loop that resets the context for
  every prompt;
- ``matmul``: the measured float32 matrix-multiply rate and the prompts per
  second it allows when every prompt is computed in full;
- ``syco-help``: the wall time of ``syco --help``.

Run ``python benchmarks/run.py --help`` for the options; benchmarks/README.md
explains the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

THREADS = 2
MODEL_ALIAS = "smollm2-135m-instruct"
LETTERS = ("A", "B")
REFERENCE = "transformers-b1"
"""Entry whose log-probability margins the others are compared with."""

SYCO_ENTRIES = ("syco-hf", "syco-hf-cloze", "syco-llamacpp", "syco-llamacpp-cloze")
PEER_ENTRIES = (
    "lm-eval-b1",
    "lm-eval-b16",
    "lm-eval-auto",
    "transformers-b1",
    "transformers-b16",
    "llama-cpp-loop",
)
ENTRIES = (*SYCO_ENTRIES, *PEER_ENTRIES, "matmul", "syco-help")

Margins = dict[str, float]
"""Log-probability of letter A minus letter B, by ``case_id|condition|order``."""


# Prompts ------------------------------------------------------------------------------


def build_prompts(limit: int) -> list[dict[str, Any]]:
    """Return the two-option prompts that syco scores for ``limit`` countries questions.

    Each prompt is ``{"key", "text", "tokens"}``; ``text`` is what the hf
    backend sends to the model and ``tokens`` its token count.
    """
    from syco_plugin_hf.loading import load_model
    from syco_plugin_hf.options import HFOptions
    from syco_plugin_hf.rendering import PromptRenderer

    from sycocore.engine import EvalConfig, _expand, _plan
    from sycocore.formats import get_question_format
    from sycocore.plugins import get_registry
    from sycocore.schemas import Readout

    config = EvalConfig(dataset="countries", manipulations="study", limit=limit, baits=1)
    plan = _plan(config, get_registry())
    slots = _expand(
        plan.cases, get_question_format("two-option"), plan.manipulations, Readout.NEXT_TOKEN
    )
    loaded = load_model(HFOptions(model=MODEL_ALIAS, dtype="float32", device="cpu"))
    renderer = PromptRenderer(loaded.tokenizer, "auto", loaded.source.label)
    prompts = []
    for slot in slots:
        if tuple(slot.request.candidates) != LETTERS:
            raise SystemExit(f"unexpected candidates {slot.request.candidates}")
        text = renderer.render(slot.request.conversation)
        prompts.append(
            {
                "key": f"{slot.case.id}|{slot.condition.name}|{slot.order}",
                "text": text,
                "tokens": len(renderer.encode(text)),
            }
        )
    return prompts


def gguf_path() -> Path:
    from sycocore.models import get_alias

    alias = get_alias(MODEL_ALIAS)
    assert alias is not None
    return alias.resolve()


# Workers: each runs in its own process and returns a result dictionary ----------------


def _load_transformers() -> tuple[Any, Any]:
    import torch
    import transformers

    torch.set_num_threads(THREADS)
    path = gguf_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    model.train(False)
    return model, tokenizer


def _syco_worker(
    entry: str, limit: int, spawned: float, prompts: list[dict[str, Any]]
) -> dict[str, Any]:
    from sycocore.engine import EvalConfig, run_eval
    from sycocore.store import read_run

    backend = "hf" if entry.startswith("syco-hf") else "llamacpp"
    question_format = "cloze" if entry.endswith("-cloze") else "two-option"
    options: dict[str, Any] = {"model": MODEL_ALIAS, "threads": THREADS}
    if backend == "hf":
        options |= {"dtype": "float32", "device": "cpu"}

    marks: dict[str, float] = {}

    class Clock:
        def start(self, total: int, description: str) -> None:
            marks.setdefault("start", time.time())
            marks.setdefault("cpu_start", time.process_time())

        def advance(self, count: int) -> None:
            pass

        def finish(self) -> None:
            marks["finish"] = time.time()
            marks["cpu_finish"] = time.process_time()

    with tempfile.TemporaryDirectory() as folder:
        config = EvalConfig(
            backend=backend,
            backend_options=options,
            dataset="countries",
            manipulations="study",
            question_format=question_format,
            limit=limit,
            baits=1,
            out=Path(folder) / "run",
            resume=False,
            use_cache=False,
        )
        result = run_eval(config, progress=Clock())
        done = time.time()
        records = read_run(result.run_dir).records

    margins: Margins = {}
    if question_format == "two-option":
        for record in records:
            if record.margin is not None:
                sign = 1.0 if record.order == "gold_first" else -1.0
                margins[f"{record.case_id}|{record.condition}|{record.order}"] = (
                    sign * record.margin
                )
    return {
        "prompts": result.scored,
        "startup_s": marks["start"] - spawned,
        "scoring_s": marks["finish"] - marks["start"],
        "scoring_cpu_s": marks["cpu_finish"] - marks["cpu_start"],
        "total_s": done - spawned,
        "margins": margins,
    }


def _lm_eval_worker(
    entry: str, limit: int, spawned: float, prompts: list[dict[str, Any]]
) -> dict[str, Any]:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = _load_transformers()
    batch_size: int | str = entry.removeprefix("lm-eval-b") if entry != "lm-eval-auto" else "auto"
    batch_size = (
        int(batch_size) if isinstance(batch_size, str) and batch_size.isdigit() else batch_size
    )
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device="cpu")
    requests = [
        Instance("loglikelihood", doc={}, arguments=(prompt["text"], letter), idx=index)
        for prompt in prompts
        for index, letter in enumerate(LETTERS)
    ]
    started, cpu_started = time.time(), time.process_time()
    results = lm.loglikelihood(requests)
    finished = time.time()
    margins = {
        prompt["key"]: float(results[2 * i][0]) - float(results[2 * i + 1][0])
        for i, prompt in enumerate(prompts)
    }
    return _peer_result(prompts, margins, spawned, started, finished, cpu_started)


def _peer_result(
    prompts: list[dict[str, Any]],
    margins: Margins,
    spawned: float,
    started: float,
    finished: float,
    cpu_started: float,
) -> dict[str, Any]:
    """Build a peer worker's result from its wall-clock marks and its CPU time since scoring."""
    return {
        "prompts": len(prompts),
        "startup_s": started - spawned,
        "scoring_s": finished - started,
        "scoring_cpu_s": time.process_time() - cpu_started,
        "total_s": finished - spawned,
        "margins": margins,
    }


def _transformers_worker(
    entry: str, limit: int, spawned: float, prompts: list[dict[str, Any]]
) -> dict[str, Any]:
    import torch

    model, tokenizer = _load_transformers()
    batch_size = int(entry.removeprefix("transformers-b"))
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    tokenizer.padding_side = "left"
    letter_ids = [tokenizer(letter, add_special_tokens=False)["input_ids"][0] for letter in LETTERS]

    started, cpu_started = time.time(), time.process_time()
    margins: Margins = {}
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        encoded = [tokenizer(p["text"], add_special_tokens=False)["input_ids"] for p in chunk]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=1
            ).logits[:, -1]
        logprobs = logits.float().log_softmax(-1)
        for row, prompt in enumerate(chunk):
            a, b = logprobs[row, letter_ids].tolist()
            margins[prompt["key"]] = a - b
    finished = time.time()
    return _peer_result(prompts, margins, spawned, started, finished, cpu_started)


def _llama_cpp_worker(
    entry: str, limit: int, spawned: float, prompts: list[dict[str, Any]]
) -> dict[str, Any]:
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        model_path=str(gguf_path()),
        n_ctx=2048,
        n_threads=THREADS,
        n_threads_batch=THREADS,
        logits_all=False,
        verbose=False,
    )
    n_vocab = llm.n_vocab()
    letter_ids = [
        llm.tokenize(letter.encode(), add_bos=False, special=False)[0] for letter in LETTERS
    ]

    started, cpu_started = time.time(), time.process_time()
    margins: Margins = {}
    for prompt in prompts:
        tokens = llm.tokenize(prompt["text"].encode(), add_bos=False, special=True)
        llm.reset()  # type: ignore[no-untyped-call]
        llm.eval(tokens)
        pointer = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).astype(np.float64)
        logprobs = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        margins[prompt["key"]] = float(logprobs[letter_ids[0]] - logprobs[letter_ids[1]])
    finished = time.time()
    llm.close()
    return _peer_result(prompts, margins, spawned, started, finished, cpu_started)


def _matmul_worker(
    entry: str, limit: int, spawned: float, prompts: list[dict[str, Any]]
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(THREADS)
    size = 2048
    left, right = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(left, right)
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(4):
            torch.matmul(left, right)
        rates.append(4 * 2 * size**3 / (time.perf_counter() - started))
    flops_per_second = statistics.median(rates)

    model, _ = _load_transformers()
    embedding = model.get_input_embeddings().weight
    total = sum(p.numel() for p in model.parameters())
    body = total - embedding.numel()
    vocab, width = embedding.shape
    mean_tokens = statistics.fmean(p["tokens"] for p in prompts)
    # The body runs on every token; the tied output layer on the last position only.
    flops_per_prompt = 2 * body * mean_tokens + 2 * vocab * width
    return {
        "gflops": flops_per_second / 1e9,
        "parameters": total,
        "body_parameters": body,
        "embedding_parameters": embedding.numel(),
        "mean_prompt_tokens": mean_tokens,
        "gflop_per_prompt": flops_per_prompt / 1e9,
        "bound_prompts_per_s": flops_per_second / flops_per_prompt,
    }


WORKERS: dict[str, Callable[[str, int, float, list[dict[str, Any]]], dict[str, Any]]] = {
    **dict.fromkeys(SYCO_ENTRIES, _syco_worker),
    **dict.fromkeys(("lm-eval-b1", "lm-eval-b16", "lm-eval-auto"), _lm_eval_worker),
    **dict.fromkeys(("transformers-b1", "transformers-b16"), _transformers_worker),
    "llama-cpp-loop": _llama_cpp_worker,
    "matmul": _matmul_worker,
}


def peak_resident_mb() -> float:
    """Return this process's peak resident memory since it started its program.

    ``ru_maxrss`` would include the parent's peak from before the fork, so the
    kernel's high-water mark of the current address space is read instead.
    """
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_main(entry: str, limit: int, spawned: float, prompts_file: Path, out: Path) -> None:
    prompts = json.loads(prompts_file.read_text(encoding="utf-8"))
    result = WORKERS[entry](entry, limit, spawned, prompts)
    result["peak_rss_mb"] = peak_resident_mb()
    out.write_text(json.dumps(result), encoding="utf-8")


# Parent -------------------------------------------------------------------------------


def load_average() -> float:
    return os.getloadavg()[0]


def busy_cores(seconds: float = 2.0) -> float:
    """Return how many cores other processes kept busy over the last ``seconds``."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy_before, total_before = sample()
    time.sleep(seconds)
    busy_after, total_after = sample()
    share = (busy_after - busy_before) / max(total_after - total_before, 1)
    return share * (os.cpu_count() or 1)


def wait_for_quiet(max_busy: float, patience: float) -> float:
    """Wait until other processes use less than ``max_busy`` cores; return the 1-minute load.

    The load average also counts this harness's own previous entry, so each
    entry waits on the cores that others use now instead.
    """
    deadline = time.time() + patience
    busy = busy_cores()
    while busy >= max_busy and time.time() < deadline:
        print(f"  other processes use {busy:.2f} cores; waiting", file=sys.stderr)
        time.sleep(10)
        busy = busy_cores()
    return load_average()


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(THREADS)
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["TRANSFORMERS_VERBOSITY"] = "error"
    return env


def run_entry(entry: str, limit: int, prompts_file: Path, folder: Path) -> dict[str, Any]:
    if entry == "syco-help":
        return time_help()
    out = folder / f"{entry}.json"
    spawned = time.time()
    command = [
        sys.executable,
        __file__,
        "--worker",
        entry,
        "--limit",
        str(limit),
        "--spawned",
        repr(spawned),
        "--prompts-file",
        str(prompts_file),
        "--worker-out",
        str(out),
    ]
    completed = subprocess.run(command, env=child_environment(), capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{entry} failed:\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if "prompts" in result:
        result["prompts_per_s"] = result["prompts"] / result["scoring_s"]
        result["prompts_per_cpu_s"] = result["prompts"] / result["scoring_cpu_s"]
    return result


def time_help(repeats: int = 7) -> dict[str, Any]:
    syco = Path(sys.executable).with_name("syco")
    command = [str(syco), "--help"]
    subprocess.run(command, capture_output=True, check=True, env=child_environment())
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=child_environment())
        times.append(time.perf_counter() - started)
    return {"help_s": statistics.median(times)}


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def max_difference(margins: Margins, reference: Margins) -> float | None:
    shared = margins.keys() & reference.keys()
    if not shared:
        return None
    return max(abs(margins[k] - reference[k]) for k in shared)


def format_table(report: dict[str, Any]) -> str:
    entries = report["entries"]
    lines = [
        f"model: {report['model']} (fp32 for torch entries), threads: {report['threads']}, "
        f"questions: {report['limit']}, two-option prompts: {report['prompts']} "
        f"(mean {report['mean_prompt_tokens']:.1f} tokens), repeats: {report['repeats']}",
        f"load average (1 min): {report['load_start']:.2f} at the start, "
        f"{report['load_min']:.2f} to {report['load_max']:.2f} before each entry "
        "(this harness's own previous entry included)",
        "",
        "| entry | prompts | prompts/s median (min-max) | prompts per CPU s | start-up s "
        f"| peak RSS MB | max diff vs {REFERENCE} |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in entries.items():
        if "prompts_per_s" not in entry:
            continue
        rate, startup, rss = entry["prompts_per_s"], entry["startup_s"], entry["peak_rss_mb"]
        difference = entry.get("max_diff")
        lines.append(
            f"| {name} | {entry['prompts']} "
            f"| {rate['median']:.2f} ({rate['min']:.2f}-{rate['max']:.2f}) "
            f"| {entry['prompts_per_cpu_s']['median']:.2f} "
            f"| {startup['median']:.1f} | {rss['median']:.0f} | "
            f"{'-' if difference is None else f'{difference:.1e}'} |"
        )
    if "matmul" in entries:
        matmul = entries["matmul"]
        lines += [
            "",
            f"fp32 matmul 2048x2048, {report['threads']} threads: {matmul['gflops']['median']:.0f} "
            f"GFLOP/s ({matmul['gflops']['min']:.0f}-{matmul['gflops']['max']:.0f}); "
            f"{matmul['body_parameters']:,} parameters without the tied embedding, "
            f"{matmul['gflop_per_prompt']['median']:.1f} GFLOP per prompt: "
            "full recomputation allows "
            f"{matmul['bound_prompts_per_s']['median']:.1f} prompts/s",
        ]
    if "syco-help" in entries:
        lines.append(f"syco --help: {entries['syco-help']['help_s']['median']:.3f} s (median of 7)")
    if report["ratios"]:
        lines += ["", "| syco entry | peer | ratio of medians |", "|---|---|---|"]
        lines += [f"| {s} | {p} | {r:.2f} |" for (s, p), r in report["ratios"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=8, help="countries questions (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each entry (default 3)")
    parser.add_argument("--quick", action="store_true", help="2 questions, 1 repeat")
    parser.add_argument("--only", help="comma list of entries (default: all)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.3,
        help="wait for a lower 1-minute load average at the start",
    )
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.3,
        help="before each entry, wait while other processes use this many cores",
    )
    parser.add_argument("--patience", type=float, default=600, help="most seconds to wait for it")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--prompts-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker_main(args.worker, args.limit, args.spawned, args.prompts_file, args.worker_out)
        return
    if args.quick:
        args.limit, args.repeats = 2, 1
    selected = ENTRIES if not args.only else tuple(args.only.split(","))
    unknown = [name for name in selected if name not in ENTRIES]
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {', '.join(ENTRIES)}")

    os.environ["TQDM_DISABLE"] = "1"
    start_load = load_average()
    deadline = time.time() + args.patience
    while start_load >= args.max_load and time.time() < deadline:
        print(f"load average {start_load:.2f} >= {args.max_load}; waiting", file=sys.stderr)
        time.sleep(15)
        start_load = load_average()

    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        prompts = build_prompts(args.limit)
        prompts_file = folder / "prompts.json"
        prompts_file.write_text(json.dumps(prompts), encoding="utf-8")

        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in selected}
        loads = []
        for repeat in range(args.repeats):
            for name in selected:
                loads.append(wait_for_quiet(args.max_busy, args.patience))
                print(
                    f"[{repeat + 1}/{args.repeats}] {name} (load {loads[-1]:.2f})", file=sys.stderr
                )
                runs[name].append(run_entry(name, args.limit, prompts_file, folder))

    entries: dict[str, dict[str, Any]] = {}
    for name, results in runs.items():
        entry: dict[str, Any] = {}
        for field, value in results[0].items():
            if isinstance(value, float) and field != "mean_prompt_tokens":
                entry[field] = summarise([r[field] for r in results])
            elif field != "margins":
                entry[field] = value
        entries[name] = entry
    reference = runs.get(REFERENCE, [{}])[0].get("margins", {})
    for name, results in runs.items():
        if "margins" in results[0] and reference and name != REFERENCE:
            entries[name]["max_diff"] = max_difference(results[0]["margins"], reference)

    ratios: dict[tuple[str, str], float] = {}
    for syco in ("syco-hf", "syco-llamacpp"):
        for peer in (*PEER_ENTRIES, "matmul"):
            if syco in entries and peer in entries:
                peer_rate: dict[str, float] = entries[peer].get(
                    "prompts_per_s", entries[peer].get("bound_prompts_per_s", {})
                )
                ratios[(syco, peer)] = (
                    entries[syco]["prompts_per_s"]["median"] / peer_rate["median"]
                )

    report = {
        "model": MODEL_ALIAS,
        "threads": THREADS,
        "limit": args.limit,
        "prompts": len(prompts),
        "mean_prompt_tokens": statistics.fmean(p["tokens"] for p in prompts),
        "repeats": args.repeats,
        "load_start": start_load,
        "load_min": min(loads),
        "load_max": max(loads),
        "cpu": cpu_model(),
        "entries": entries,
        "ratios": ratios,
    }
    print(format_table(report))
    if args.json:
        serialisable = report | {"ratios": {f"{s} / {p}": r for (s, p), r in ratios.items()}}
        args.json.write_text(json.dumps(serialisable, indent=2), encoding="utf-8")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
