"""The plain-text summary of a decomposition result that ``syco eval`` prints after a run.

It fits 100 columns for the study's manipulations and uses no colour or markup,
so it reads the same in a terminal, a log file and a pasted issue.
"""

from __future__ import annotations

from typing import Any

from .figures import sort_manipulations
from .report import fmt_number, fmt_rate

__all__ = ["describe_result"]


def describe_result(result: dict[str, Any]) -> str:
    """Return the headline numbers of a ``decomposition`` result as lines of plain text.

    The lines give the retained cases, the competence test, the truth-margin
    statistics, one row per manipulation (directional families first, controls
    last, as in the report's figure), the worst case and the tier check. Where
    the result has no value (no retained case, no manipulation, no interval),
    a line or an ``n/a`` cell marks the gap.
    """
    cases = result["cases"]
    if not cases["with_truth_margin"]:
        return (
            f"Decomposition: none of {cases['total']} cases has a complete neutral margin, "
            "so no truth margin or flip rate exists."
        )

    lines = _cases_lines(result)
    lines += _competence_lines(result)
    lines.append(_truth_margin_line(result))

    manipulations = result["manipulations"]
    if not manipulations:
        lines.append("No manipulation in this run, so no flip rate exists.")
    elif not cases["retained"]:
        lines.append(
            f"No retained case, so none of the {len(manipulations)} manipulations has a flip rate."
        )
    else:
        lines += _manipulation_table(result)
        lines += _worst_case_lines(result)
    return "\n".join(lines)


def _cases_lines(result: dict[str, Any]) -> list[str]:
    cases = result["cases"]
    rule = "S0 > 0"
    if (result.get("knowledge_filter") or {}).get("enabled"):
        rule = "S0 > 0 and known"
    lines = [
        f"Decomposition: {cases['retained']} of {cases['total']} cases retained ({rule}), "
        f"from {cases['questions_retained']} of {cases['questions']} questions"
    ]
    if cases["neutral_incomplete"]:
        lines.append(
            f"  {cases['neutral_incomplete']} cases lack a complete neutral margin and are left out"
        )
    return lines


def _competence_lines(result: dict[str, Any]) -> list[str]:
    competence = result["competence"]
    question_format = result.get("question_format") or "unknown"
    if competence["competent"]:
        verdict = "competent"
    elif competence["share"] is not None and competence["share"] > competence["chance"]:
        verdict = "not established"
    else:
        verdict = "NOT competent"
    test = f"p = {competence['p_value']:.2g}, alpha {competence['alpha']:g}"
    return [
        f"Competence in the {question_format} format: {verdict} ({test})",
        f"  S0 > 0 in {fmt_rate(competence['case_share'])} of cases; mean S0 > 0 in "
        f"{competence['questions_positive']} of {competence['questions']} questions "
        f"({fmt_rate(competence['share'])}), chance {fmt_rate(competence['chance'])}",
    ]


def _truth_margin_line(result: dict[str, Any]) -> str:
    truth = result["truth_margin"]
    return (
        f"Truth margin S0 in {result['margin_unit']}: mean {fmt_number(truth['mean'])}, "
        f"median {fmt_number(truth['median'])}, SD {fmt_number(truth['sd'])}"
    )


def _manipulation_table(result: dict[str, Any]) -> list[str]:
    manipulations = result["manipulations"]
    confidence = f"{100 * result['options']['confidence']:.0f}% CI"
    normalised = any(entry["delta_mean_normalised"] is not None for entry in manipulations)
    header = ["manipulation", "family", "flip rate", confidence, "mean dS"]
    if normalised:
        header.append("mean dS/SD(S0)")
    header.append("cases")

    rows = [header]
    for entry in sort_manipulations(manipulations):
        interval = entry["flip_rate_interval"]
        row = [
            entry["name"],
            _family(entry),
            fmt_rate(entry["flip_rate"]),
            f"[{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]" if interval else "n/a",
            fmt_number(entry["delta_mean"]),
        ]
        if normalised:
            row.append(fmt_number(entry["delta_mean_normalised"]))
        row.append(str(entry["cases_used"]))
        rows.append(row)
    return _align(rows, left_columns=2)


def _family(entry: dict[str, Any]) -> str:
    if entry["directional"] or entry["family"] == "control":
        return str(entry["family"])
    return f"{entry['family']} (control)"


def _align(rows: list[list[str]], left_columns: int) -> list[str]:
    """Pad the cells of ``rows`` into columns: text left-aligned, numbers right-aligned."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) if column < left_columns else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _worst_case_lines(result: dict[str, Any]) -> list[str]:
    worst = result["worst_case"]
    if not worst:
        return ["Worst case: none, because no manipulation has a flip rate"]
    lines = [
        f"Worst case: {worst['manipulation']}, flip rate "
        f"{fmt_rate(worst['flip_rate'], worst['interval'])}"
    ]

    tier = result["tier_check"]
    if tier["passed"] is None:
        lines.append(
            "Tier check: not applicable, no directional manipulation or no control has a rate"
        )
    elif tier["passed"]:
        lines.append(
            "Tier check: passed, every directional manipulation flips more than every control"
        )
    else:
        lines.append(_tier_failure(result))
    return lines


def _tier_failure(result: dict[str, Any]) -> str:
    """Return the tier-check line naming the violating pair with the largest gap."""
    rated = [entry for entry in result["manipulations"] if entry["flip_rate"] is not None]
    directional = sum(1 for entry in rated if entry["directional"])
    pairs = directional * (len(rated) - directional)
    violations = result["tier_check"]["violations"]
    worst = max(violations, key=lambda v: v["control_flip_rate"] - v["directional_flip_rate"])
    named = (
        f"{worst['directional']} {fmt_rate(worst['directional_flip_rate'])} <= "
        f"{worst['control']} {fmt_rate(worst['control_flip_rate'])}"
    )
    if len(violations) == 1:
        return f"Tier check: FAILED for 1 of {pairs} pairs, {named}"
    return f"Tier check: FAILED for {len(violations)} of {pairs} pairs, worst {named}"
