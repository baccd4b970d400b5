"""syco compare: channels, concordance and McNemar's test against hand computation."""

from __future__ import annotations

import json
import random
import statistics
from math import comb
from pathlib import Path
from typing import Any

import pytest
from syco_plugin_decomposition.cli import compare_app
from syco_plugin_decomposition.compare import CompareError, compare_runs
from syco_plugin_decomposition.runs import read_run
from syco_plugin_decomposition.synthetic import (
    TWO_OPTION,
    Margins,
    make_run,
    uniform,
    write_run_dir,
)
from typer.testing import CliRunner

from sycocore.errors import RunStoreError

# (S0, experts, very_sure, user_phd) per case; margins equal in both orders.
RUN_A = {
    ("q1", "b1"): (1.0, -1.0, 0.5, 1.0),
    ("q1", "b2"): (2.0, 1.0, -1.0, 2.0),
    ("q2", "b1"): (-1.0, -2.0, -1.0, -1.0),
    ("q3", "b1"): (3.0, -0.5, 2.0, 3.0),
    ("qa", "b1"): (1.0, 1.0, 1.0, 1.0),
}
RUN_B = {
    ("q1", "b1"): (4.0, 2.0, 3.0, 4.0),
    ("q1", "b2"): (1.0, -1.0, -2.0, 1.0),
    ("q2", "b1"): (2.0, -1.0, 1.0, 2.0),
    ("q3", "b1"): (5.0, 4.0, 3.0, 5.0),
    ("qb", "b1"): (1.0, 1.0, 1.0, 1.0),
}
SHARED = [("q1", "b1"), ("q1", "b2"), ("q2", "b1"), ("q3", "b1")]
COLUMN = {"experts": 1, "very_sure": 2}


def to_margins(table: dict[tuple[str, str], tuple[float, ...]]) -> Margins:
    return {key: uniform(*values) for key, values in table.items()}


def row(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in result["manipulations"] if entry["name"] == name)


def hand_channels(name: str) -> dict[str, list[float]]:
    column = COLUMN[name]
    channels: dict[str, list[float]] = {"margin": [], "sensitivity": [], "net": []}
    for key in SHARED:
        truth_a, truth_b = RUN_A[key][0], RUN_B[key][0]
        pushed_a, pushed_b = RUN_A[key][column], RUN_B[key][column]
        channels["margin"].append(truth_b - truth_a)
        channels["sensitivity"].append((pushed_b - truth_b) - (pushed_a - truth_a))
        channels["net"].append(pushed_b - pushed_a)
    return channels


def run_pair(resamples: int = 300) -> dict[str, Any]:
    run_a = make_run(to_margins(RUN_A), run_id="a")
    run_b = make_run(to_margins(RUN_B), run_id="b", model="other-model")
    return compare_runs(run_a, run_b, resamples=resamples, seed=3).result


def test_channels_match_hand_medians() -> None:
    result = run_pair()
    assert result["shared_cases"] == 4
    assert result["only_a"] == 1
    assert result["only_b"] == 1
    for name in COLUMN:
        expected = hand_channels(name)
        raw = row(result, name)["channels"]["raw"]
        for channel, values in expected.items():
            assert raw[channel]["median"] == pytest.approx(statistics.median(values)), channel
            assert raw[channel]["mean"] == pytest.approx(statistics.fmean(values)), channel


def test_net_equals_margin_plus_sensitivity() -> None:
    expected = hand_channels("experts")
    for margin, sensitivity, net in zip(*expected.values(), strict=True):
        assert net == pytest.approx(margin + sensitivity)
    assert row(run_pair(), "experts")["net_favours_b_share"] == pytest.approx(3 / 4)


def test_normalised_channels_use_own_sd() -> None:
    result = run_pair()
    sd_a = statistics.stdev(RUN_A[key][0] for key in SHARED)
    sd_b = statistics.stdev(RUN_B[key][0] for key in SHARED)
    assert result["sd_truth_margin"]["a"] == pytest.approx(sd_a)
    assert result["sd_truth_margin"]["b"] == pytest.approx(sd_b)
    sensitivities = []
    for key in SHARED:
        push_a = (RUN_A[key][1] - RUN_A[key][0]) / sd_a
        push_b = (RUN_B[key][1] - RUN_B[key][0]) / sd_b
        sensitivities.append(push_b - push_a)
    normalised = row(result, "experts")["channels"]["normalised"]
    assert normalised["sensitivity"]["median"] == pytest.approx(statistics.median(sensitivities))


def test_concordance_classes_by_hand() -> None:
    result = run_pair()
    experts = row(result, "experts")["concordance"]
    # A flips q1b1 and q3b1; B flips q1b2 and q2b1 (A does not know q2b1).
    assert experts["rescued"] == 2
    assert experts["lost"] == 2
    assert experts["both_safe"] == 0
    assert experts["both_flip"] == 0
    assert experts["mcnemar_p"] == pytest.approx(1.0)
    very_sure = row(result, "very_sure")["concordance"]
    assert very_sure["both_flip"] == 1
    assert very_sure["both_safe"] == 3
    retained = row(result, "experts")["retained_both"]
    assert retained["cases"] == 3
    assert retained["rescued"] == 2
    assert retained["lost"] == 1


def test_families_pool_manipulations() -> None:
    result = run_pair()
    families = {family["family"]: family for family in result["families"]}
    assert set(families) == {"authority", "belief", "all directional"}
    pooled = families["all directional"]
    assert pooled["pairs"] == 8
    values = hand_channels("experts")["net"] + hand_channels("very_sure")["net"]
    assert pooled["channels"]["raw"]["net"]["median"] == pytest.approx(statistics.median(values))
    assert pooled["concordance"]["rescued"] == 2
    assert "user_phd" not in pooled["manipulations"]


def exact_mcnemar(rescued: int, lost: int) -> float:
    total = rescued + lost
    if total == 0:
        return 1.0
    tail = sum(comb(total, k) for k in range(min(rescued, lost) + 1)) / 2**total
    return min(1.0, 2 * tail)


def test_mcnemar_against_exact_formula() -> None:
    generator = random.Random(9)
    table_a: dict[tuple[str, str], tuple[float, ...]] = {}
    table_b: dict[tuple[str, str], tuple[float, ...]] = {}
    for number in range(60):
        key = (f"q{number}", "b0")
        truth_a, truth_b = generator.uniform(-1, 3), generator.uniform(-1, 3)
        table_a[key] = (truth_a, generator.uniform(-3, 3), truth_a, truth_a)
        table_b[key] = (truth_b, generator.uniform(-1, 4), truth_b, truth_b)
    comparison = compare_runs(
        make_run(to_margins(table_a)), make_run(to_margins(table_b)), resamples=50
    )
    experts = row(comparison.result, "experts")["concordance"]
    rescued = lost = 0
    for key in table_a:
        flip_a = table_a[key][0] > 0 and table_a[key][1] < 0
        flip_b = table_b[key][0] > 0 and table_b[key][1] < 0
        rescued += flip_a and not flip_b
        lost += flip_b and not flip_a
    assert experts["rescued"] == rescued
    assert experts["lost"] == lost
    assert rescued != lost
    assert experts["mcnemar_p"] == pytest.approx(exact_mcnemar(rescued, lost))


def test_median_interval_contains_point() -> None:
    result = run_pair(resamples=400)
    for channel in ("margin", "sensitivity", "net"):
        summary = row(result, "experts")["channels"]["raw"][channel]
        low, high = summary["interval"]
        assert low <= summary["median"] <= high, channel


def test_compare_rejects_no_shared_cases() -> None:
    other = {(f"x{k[0]}", k[1]): v for k, v in RUN_B.items()}
    with pytest.raises(CompareError, match="share no case"):
        compare_runs(make_run(to_margins(RUN_A)), make_run(to_margins(other)), resamples=10)


def test_compare_rejects_different_formats() -> None:
    cloze = {**TWO_OPTION, "name": "cloze", "orders": ["gold_first", "bait_first"], "hash": "c"}
    with pytest.raises(CompareError, match="question format"):
        compare_runs(
            make_run(to_margins(RUN_A)),
            make_run(to_margins(RUN_B), question_format=cloze),
            resamples=10,
        )


def test_compare_rejects_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunStoreError, match=r"manifest\.json"):
        read_run(tmp_path / "empty")
    with pytest.raises(RunStoreError, match="not found"):
        read_run(tmp_path / "absent")


def test_compare_cli_prints_json(tmp_path: Path) -> None:
    run_a = write_run_dir(tmp_path / "a", make_run(to_margins(RUN_A), run_id="a"))
    run_b = write_run_dir(tmp_path / "b", make_run(to_margins(RUN_B), run_id="b"))
    outcome = CliRunner().invoke(
        compare_app, [str(run_a), str(run_b), "--json", "--resamples", "50"]
    )
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.output)
    assert result["shared_cases"] == 4
    assert result["run_a"]["run_id"] == "a"
    assert row(result, "experts")["concordance"]["rescued"] == 2


def test_compare_cli_prints_table(tmp_path: Path) -> None:
    run_a = write_run_dir(tmp_path / "a", make_run(to_margins(RUN_A), run_id="a"))
    run_b = write_run_dir(tmp_path / "b", make_run(to_margins(RUN_B), run_id="b"))
    outcome = CliRunner().invoke(
        compare_app, [str(run_a), str(run_b), "--resamples", "50"], env={"COLUMNS": "200"}
    )
    assert outcome.exit_code == 0, outcome.output
    assert "experts" in outcome.output
    assert "all directional" in outcome.output


@pytest.mark.slow
def test_compare_writes_self_contained_html(tmp_path: Path) -> None:
    run_a = write_run_dir(tmp_path / "a", make_run(to_margins(RUN_A), run_id="a"))
    run_b = write_run_dir(tmp_path / "b", make_run(to_margins(RUN_B), run_id="b"))
    out = tmp_path / "out"
    outcome = CliRunner().invoke(
        compare_app, [str(run_a), str(run_b), "--out", str(out), "--resamples", "50"]
    )
    assert outcome.exit_code == 0, outcome.output
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert (out / "compare.md").is_file()
    assert (out / "figures" / "channels_raw.png").is_file()
    assert page.count('src="data:image/png;base64,') == 3
    assert "http://" not in page
    assert "https://" not in page
