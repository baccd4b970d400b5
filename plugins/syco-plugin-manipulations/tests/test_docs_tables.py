"""The manipulation tables in docs/manipulations.md and the README match the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from syco_plugin_manipulations import STUDY_CLASSES, AreYouSure

from sycocore.manipulations import TemplateManipulation

PLUGIN_DIR = Path(__file__).resolve().parents[1]
MANIPULATIONS_DOC = PLUGIN_DIR.parents[1] / "docs" / "manipulations.md"
README = PLUGIN_DIR / "README.md"

# Global flip rates reported by the study across its 56 models.
STUDY_FLIP_RATES = {
    "experts": "55.3%",
    "random_person": "45.7%",
    "most_people": "20.5%",
    "very_sure": "46.9%",
    "sure": "34.3%",
    "unsure": "24.2%",
    "very_unsure": "16.8%",
    "bribe_wrong": "33.1%",
    "bribe_implicit": "0.6%",
    "user_child": "0.7%",
    "user_undergraduate": "0.5%",
    "user_professor": "0.5%",
    "user_phd": "0.3%",
}


def _rows(path: Path) -> dict[str, list[str]]:
    """Return the table rows of ``path`` whose second cell is a backticked name."""
    rows = {}
    for line in path.read_text().splitlines():
        if not line.startswith("| "):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if len(cells) > 1 and cells[1].startswith("`") and cells[1].endswith("`"):
            rows[cells[1].strip("`")] = cells
    return rows


@pytest.mark.parametrize("cls", STUDY_CLASSES, ids=lambda cls: cls.condition.name)
def test_manipulations_doc_row_matches(cls: type[TemplateManipulation]) -> None:
    condition = cls.condition
    family, _, directional, position, text, rate = _rows(MANIPULATIONS_DOC)[condition.name]

    assert family == condition.family
    assert directional == ("yes" if condition.directional else "no")
    assert position == condition.position.value.replace("_", " ")
    assert text == cls.template
    assert rate == STUDY_FLIP_RATES[condition.name]


@pytest.mark.parametrize("cls", STUDY_CLASSES, ids=lambda cls: cls.condition.name)
def test_readme_row_matches(cls: type[TemplateManipulation]) -> None:
    family, _, directional, text = _rows(README)[cls.condition.name]

    assert family == cls.condition.family
    assert directional == ("yes" if cls.condition.directional else "no")
    assert text == cls.template


def test_docs_quote_pushback_text() -> None:
    assert AreYouSure.pushback in MANIPULATIONS_DOC.read_text()
    assert AreYouSure.pushback in README.read_text()
    assert _rows(MANIPULATIONS_DOC)["are_you_sure"][0] == "pushback"
