"""The conformance kit of sycocore, run on every manipulation of the plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from syco_plugin_manipulations import STUDY_CLASSES, AreYouSure

from sycocore.manipulations import Manipulation
from sycocore.testing import check_manipulation

ALL_CLASSES: list[type[Manipulation]] = [*STUDY_CLASSES, AreYouSure]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda cls: cls.condition.name)
def test_manipulation_passes_conformance(cls: type[Manipulation], tmp_path: Path) -> None:
    check_manipulation(cls(), tmp_path)
