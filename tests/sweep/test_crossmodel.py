"""The cross-model analysis of a sweep against an independent computation on hand-made runs."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from syco_plugin_decomposition.crossmodel import load_points, paired_differences, regression
from syco_plugin_decomposition.crossmodel_report import write_sweep_report
from syco_plugin_decomposition.decomposition import DecompositionOptions

from sycocore.store import write_json_atomic
from sycocore.sweep import ModelStatus, SweepState

# name, family, size_b, regime, pair, worst-case flip rate
MODELS: list[tuple[str, str, float, str, str | None, float]] = [
    ("a-0.5b", "alpha", 0.5, "base", None, 1.0),
    ("a-0.5b-it", "alpha", 0.5, "instruct", "a-0.5b", 0.80),
    ("a-3b", "alpha", 3.0, "base", None, 0.55),
    ("a-3b-it", "alpha", 3.0, "instruct", "a-3b", 0.62),
    ("a-14b", "alpha", 14.0, "base", None, 0.35),
    ("a-14b-it", "alpha", 14.0, "instruct", "a-14b", 0.12),
    ("b-1b", "beta", 1.0, "base", None, 0.70),
    ("b-1b-it", "beta", 1.0, "instruct", "b-1b", 0.45),
    ("b-8b", "beta", 8.0, "base", None, 0.40),
    ("b-8b-it", "beta", 8.0, "instruct", "b-8b", 0.0),
    ("b-32b-it", "beta", 32.0, "instruct", None, 0.05),
]


def _write_sweep(sweep_dir: Path) -> None:
    """Write sweep.json and one summary per model, as a finished sweep would."""
    statuses = []
    for name, family, size, regime, pair, worst in MODELS:
        run_dir = sweep_dir / "runs" / name
        run_dir.mkdir(parents=True)
        decomposition = {
            "worst_case": {"manipulation": "experts", "flip_rate": worst, "interval": None},
            "cases": {"retained": 40},
            "competence": {"competent": True},
        }
        summary = {"complete": True, "metrics": {"decomposition": decomposition}}
        write_json_atomic(run_dir / "summary.json", summary)
        statuses.append(
            ModelStatus(
                name=name,
                backend="hf",
                model=name,
                family=family,
                size_b=size,
                regime=regime,
                pair=pair,
                entry_hash="0" * 64,
                run_dir=f"runs/{name}",
                status="done",
            )
        )
    state = SweepState(
        name="hand",
        sweep_file="hand.toml",
        sweep_sha256="0" * 64,
        settings={"seed": 7},
        models=statuses,
    )
    write_json_atomic(sweep_dir / "sweep.json", state.model_dump(mode="json"))


def _groups() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Build the outcome and term groups directly from MODELS."""
    worst = np.array([m[5] for m in MODELS])
    y = np.log(np.clip(worst, 0.01, 0.99) / (1 - np.clip(worst, 0.01, 0.99)))
    size = np.log10([m[2] for m in MODELS])
    size = size - size.mean()
    instruct = np.array([m[3] == "instruct" for m in MODELS], dtype=float)
    beta = np.array([m[1] == "beta" for m in MODELS], dtype=float)
    return y, {
        "size": size[:, None],
        "regime": instruct[:, None],
        "size x regime": (size * instruct)[:, None],
        "family": beta[:, None],
    }


def _r2(y: np.ndarray, columns: list[np.ndarray]) -> float:
    if not columns:
        return 0.0
    design = np.column_stack([np.ones(y.size), *columns])
    fitted = design @ (np.linalg.pinv(design) @ y)
    return float(np.var(fitted) / np.var(y))


def _shapley(y: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, float]:
    """LMG as a weighted sum over subsets (the Shapley value of R^2)."""
    names = list(groups)
    p = len(names)
    values = {}
    for name in names:
        others = [other for other in names if other != name]
        total = 0.0
        for k in range(p):
            weight = math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p)
            for subset in itertools.combinations(others, k):
                with_name = [groups[g] for g in (*subset, name)]
                without = [groups[g] for g in subset]
                total += weight * (_r2(y, with_name) - _r2(y, without))
        values[name] = total
    return values


def _options() -> DecompositionOptions:
    return DecompositionOptions(resamples=200)


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    _write_sweep(tmp_path / "sweep")
    return tmp_path / "sweep"


def test_regression_r_squared_matches(sweep_dir: Path) -> None:
    _, points = load_points(sweep_dir, _options())
    fit = regression(points, resamples=0)
    y, groups = _groups()
    assert fit is not None
    assert fit["r_squared"] == pytest.approx(_r2(y, list(groups.values())), abs=1e-10)
    assert fit["n"] == len(MODELS)
    assert fit["saturated"] is False


def test_regression_coefficients_match(sweep_dir: Path) -> None:
    _, points = load_points(sweep_dir, _options())
    fit = regression(points, resamples=0)
    y, groups = _groups()
    design = np.column_stack([np.ones(y.size), *groups.values()])
    expected = np.linalg.pinv(design) @ y
    assert fit is not None
    estimates = [row["estimate"] for row in fit["fit"]["terms"]]
    assert estimates == pytest.approx(expected.tolist(), abs=1e-9)
    assert [row["term"] for row in fit["fit"]["terms"]] == [
        "intercept",
        "log10 size (centred)",
        "regime[instruct]",
        "log10 size x regime[instruct]",
        "family[beta]",
    ]
    residual = y - design @ expected
    sigma2 = residual @ residual / (y.size - design.shape[1])
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(design.T @ design)))
    assert [row["se"] for row in fit["fit"]["terms"]] == pytest.approx(se.tolist(), rel=1e-9)


def test_lmg_shares_match_shapley(sweep_dir: Path) -> None:
    _, points = load_points(sweep_dir, _options())
    fit = regression(points, resamples=0)
    y, groups = _groups()
    expected = _shapley(y, groups)
    full = _r2(y, list(groups.values()))
    assert fit is not None
    for row in fit["lmg"]:
        assert row["lmg"] == pytest.approx(expected[row["group"]], abs=1e-10)
        assert row["share"] == pytest.approx(expected[row["group"]] / full, abs=1e-10)
    assert sum(row["share"] for row in fit["lmg"]) == pytest.approx(1.0)


def test_clamp_bounds_logit(sweep_dir: Path) -> None:
    _, points = load_points(sweep_dir, _options())
    fit = regression(points, resamples=0, clamp=0.2)
    worst = np.clip([m[5] for m in MODELS], 0.2, 0.8)
    y = np.log(worst / (1 - worst))
    _, groups = _groups()
    assert fit is not None
    assert fit["r_squared"] == pytest.approx(_r2(y, list(groups.values())), abs=1e-10)


def test_lmg_bootstrap_is_seeded(sweep_dir: Path) -> None:
    _, points = load_points(sweep_dir, _options())
    first = regression(points, resamples=100, seed=3)
    second = regression(points, resamples=100, seed=3)
    other = regression(points, resamples=100, seed=4)
    assert first is not None
    assert second is not None
    assert other is not None
    assert first["lmg"] == second["lmg"]
    assert first["lmg"] != other["lmg"]
    assert first["bootstrap"]["used"] == 100
    for row in first["lmg"]:
        low, high = row["share_interval"]
        assert 0.0 <= low <= high <= 1.0


def _exact_wilcoxon(differences: list[float]) -> float:
    ranks = np.argsort(np.argsort(np.abs(differences))) + 1
    positive = sum(r for r, d in zip(ranks, differences, strict=True) if d > 0)
    statistic = min(positive, ranks.sum() - positive)
    sums = [
        sum(r for r, s in zip(ranks, signs, strict=True) if s)
        for signs in itertools.product((0, 1), repeat=len(ranks))
    ]
    return min(1.0, 2 * sum(s <= statistic for s in sums) / len(sums))


def _exact_sign_flip(differences: list[float]) -> float:
    observed = abs(sum(differences))
    flips = [
        abs(sum(s * d for s, d in zip(signs, differences, strict=True)))
        for signs in itertools.product((1, -1), repeat=len(differences))
    ]
    return sum(f >= observed - 1e-12 for f in flips) / len(flips)


def test_paired_differences_match(sweep_dir: Path) -> None:
    _, points = load_points(sweep_dir, _options())
    result = paired_differences(points, resamples=100, seed=0)
    worst = {m[0]: m[5] for m in MODELS}
    pairs = [(m[4], m[0], m[2]) for m in MODELS if m[4]]
    expected = [worst[tuned] - worst[base] for base, tuned, _ in pairs]
    assert [row["difference"] for row in result["pairs"]] == pytest.approx(expected)

    groups = {group["group"]: group for group in result["groups"]}
    small = [d for d, (_, _, size) in zip(expected, pairs, strict=True) if size <= 4]
    large = [d for d, (_, _, size) in zip(expected, pairs, strict=True) if size > 4]
    for label, differences in (("all", expected), ("<= 4B", small), ("> 4B", large)):
        group = groups[label]
        lower = sum(d < 0 for d in differences)
        higher = sum(d > 0 for d in differences)
        n = lower + higher
        tail = sum(math.comb(n, k) for k in range(min(lower, higher) + 1)) / 2**n
        assert group["pairs"] == len(differences)
        assert group["tuned_more_robust"] == lower
        assert group["sign_test_p"] == pytest.approx(min(1.0, 2 * tail))
        assert group["permutation_p"] == pytest.approx(_exact_sign_flip(differences))
        assert group["wilcoxon_p"] == pytest.approx(_exact_wilcoxon(differences))
        assert group["mean_difference"] == pytest.approx(float(np.mean(differences)))


def test_sweep_report_writes_files(sweep_dir: Path) -> None:
    analysis, written = write_sweep_report(sweep_dir, _options())
    names = {path.name for path in written}
    assert {"report.md", "report.html", "crossmodel.json", "worst_case_by_size.png"} <= names
    assert json.loads((sweep_dir / "crossmodel.json").read_text(encoding="utf-8")) == analysis
    markdown = (sweep_dir / "report.md").read_text(encoding="utf-8")
    assert "## Size, regime and family" in markdown
    assert "## Base and tuned pairs" in markdown
    # The hand-made runs have no records, so each pair's channel decomposition fails.
    channels: list[dict[str, Any]] = analysis["pair_channels"]
    assert len(channels) == 5
    assert all("records.jsonl" in row["error"] or "manifest" in row["error"] for row in channels)


def test_report_command_on_sweep_dir(sweep_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sycocore.cli import main

    status = main(["report", str(sweep_dir), "-M", "resamples=50", "--json"])
    assert status == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["sweep"] == "hand"
    assert analysis["regression"]["bootstrap"] == {"resamples": 50, "used": 50, "seed": 7}
