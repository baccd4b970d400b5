"""Reports of one run and of several, the tidy table and reading run directories."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from syco_plugin_decomposition.cli import report_app
from syco_plugin_decomposition.decomposition import DecompositionOptions
from syco_plugin_decomposition.metric import DecompositionMetric
from syco_plugin_decomposition.runs import read_run
from syco_plugin_decomposition.synthetic import Margins, make_run, uniform, write_run_dir
from typer.testing import CliRunner

from sycocore.errors import ConfigError, RunStoreError
from sycocore.metrics import RunData


def margins_with(questions: int, positive: int) -> Margins:
    margins: Margins = {}
    for number in range(questions):
        sign = 1.0 if number < positive else -1.0
        for bait in range(1 + number % 2):
            margins[(f"q{number:02d}", f"b{bait}")] = uniform(
                sign * (1 + bait), sign - 2.5, sign - 1.5, sign
            )
    return margins


def report(run: RunData, out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    metric = DecompositionMetric(DecompositionOptions(resamples=100))
    result = metric.compute(run)
    return result, metric.write_report(run, result, out_dir)


def assert_self_contained(page: str) -> None:
    assert "http://" not in page
    assert "https://" not in page
    assert "<link" not in page
    assert "<script" not in page
    for source in re.findall(r'src="([^"]*)"', page):
        assert source.startswith("data:image/png;base64,"), source[:40]


@pytest.mark.slow
def test_report_files_exist(tmp_path: Path) -> None:
    _, written = report(make_run(margins_with(20, 18)), tmp_path)
    names = {path.relative_to(tmp_path).as_posix() for path in written}
    assert names == {
        "report.md",
        "report.html",
        "records.csv",
        "records.parquet",
        "figures/flip_rates.png",
        "figures/margin_vs_push.png",
        "figures/truth_margin.png",
    }
    for path in written:
        assert path.stat().st_size > 0, path
    for png in (tmp_path / "figures").iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


@pytest.mark.slow
def test_report_html_self_contained(tmp_path: Path) -> None:
    report(make_run(margins_with(20, 18)), tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert_self_contained(page)
    assert page.count('src="data:image/png;base64,') == 3
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "](figures/flip_rates.png)" in markdown
    assert "Warning" not in markdown


@pytest.mark.slow
def test_report_warns_at_top_when_at_chance(tmp_path: Path) -> None:
    result, _ = report(make_run(margins_with(20, 10), model="chance-lm"), tmp_path)
    assert result["competence"]["competent"] is False
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8").splitlines()
    first_block = next(line for line in markdown[1:] if line.strip())
    assert first_block.startswith("> **Warning:**")
    assert "chance-lm" in first_block
    assert "not competent" in first_block
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    body = page[page.index("</h1>") + len("</h1>") :].lstrip()
    assert body.startswith('<div class="warning">')
    assert "chance-lm" in body[: body.index("</div>")]


@pytest.mark.slow
def test_tidy_table_one_row_per_condition(tmp_path: Path) -> None:
    margins = margins_with(4, 3)
    report(make_run(margins), tmp_path)
    with (tmp_path / "records.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(margins) * 4
    row = next(r for r in rows if r["case_id"] == "q01::b1" and r["condition"] == "experts")
    assert float(row["S0"]) == pytest.approx(2.0)
    assert float(row["S_t"]) == pytest.approx(-1.5)
    assert float(row["dS_t"]) == pytest.approx(-3.5)
    assert row["flip"] == "True"
    assert row["retained"] == "True"
    assert row["family"] == "authority"
    assert row["directional"] == "True"
    unknown = next(r for r in rows if r["case_id"] == "q03::b1" and r["condition"] == "experts")
    assert unknown["retained"] == "False"
    assert unknown["flip"] == "False"


def test_read_run_skips_truncated_last_line(tmp_path: Path) -> None:
    run = make_run(margins_with(3, 3))
    run_dir = write_run_dir(tmp_path / "run", run, truncated_tail=True)
    loaded = read_run(run_dir)
    assert loaded.records == run.records
    assert loaded.run_dir == run_dir


def test_read_run_rejects_bad_middle_line(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", make_run(margins_with(3, 3)))
    lines = (run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:10]
    (run_dir / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RunStoreError, match="line 3"):
        read_run(run_dir)


def test_read_run_rejects_missing_records(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", make_run(margins_with(3, 3)))
    (run_dir / "records.jsonl").unlink()
    with pytest.raises(RunStoreError, match=r"records\.jsonl"):
        read_run(run_dir)


@pytest.mark.slow
def test_report_cli_single_run(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", make_run(margins_with(10, 9)))
    outcome = CliRunner().invoke(report_app, [str(run_dir), "-M", "resamples=50"])
    assert outcome.exit_code == 0, outcome.output
    assert (run_dir / "report.html").is_file()
    assert str(run_dir / "report.md") in outcome.output


@pytest.mark.slow
def test_report_cli_combines_runs(tmp_path: Path) -> None:
    small = make_run(
        margins_with(10, 9),
        run_id="small",
        model="lm-1b",
        config={"model_meta": {"size_b": 1.0, "regime": "base"}},
    )
    large = make_run(margins_with(10, 10), run_id="large", model="lm-7b")
    dirs = [write_run_dir(tmp_path / r.manifest.run_id, r) for r in (small, large)]
    out = tmp_path / "combined"
    outcome = CliRunner().invoke(
        report_app, [*map(str, dirs), "--out", str(out), "-M", "resamples=50"]
    )
    assert outcome.exit_code == 0, outcome.output
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "lm-1b (small)" in markdown
    assert "lm-7b (large)" in markdown
    assert "| base |" in markdown
    assert "| unknown |" in markdown
    assert (out / "figures" / "worst_case.png").is_file()
    assert_self_contained((out / "report.html").read_text(encoding="utf-8"))


def test_report_cli_several_runs_need_out(tmp_path: Path) -> None:
    dirs = [write_run_dir(tmp_path / n, make_run(margins_with(3, 3))) for n in ("a", "b")]
    outcome = CliRunner().invoke(report_app, [*map(str, dirs)])
    assert isinstance(outcome.exception, ConfigError)
    assert "--out" in str(outcome.exception)


@pytest.mark.slow
def test_report_cli_warns_incomplete_run(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", make_run(margins_with(10, 9)))
    lines = (run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["dataset"]["cases"] = len({json.loads(line)["case_id"] for line in lines})
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (run_dir / "records.jsonl").write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    outcome = CliRunner().invoke(report_app, [str(run_dir), "-M", "decomposition.resamples=50"])
    assert outcome.exit_code == 0, outcome.output
    assert "is incomplete" in outcome.output
    assert f"({len(lines) - 3} of {len(lines)} records)" in outcome.output


@pytest.mark.slow
def test_report_cli_complete_run_no_warning(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", make_run(margins_with(10, 9)))
    outcome = CliRunner().invoke(report_app, [str(run_dir), "-M", "resamples=50"])
    assert "incomplete" not in outcome.output
