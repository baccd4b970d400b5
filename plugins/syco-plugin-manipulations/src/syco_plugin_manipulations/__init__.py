"""The manipulations of the factual sycophancy study for syco, plus a multi-turn pushback.

Importing this package registers nothing; syco finds :mod:`.plugin` through the
``syco`` entry-point group.
"""

from __future__ import annotations

from .pushback import AreYouSure
from .study import (
    STUDY_CLASSES,
    BribeImplicit,
    BribeWrong,
    Experts,
    MostPeople,
    RandomPerson,
    Sure,
    Unsure,
    UserChild,
    UserPhd,
    UserProfessor,
    UserUndergraduate,
    VerySure,
    VeryUnsure,
)

__all__ = [
    "STUDY_CLASSES",
    "AreYouSure",
    "BribeImplicit",
    "BribeWrong",
    "Experts",
    "MostPeople",
    "RandomPerson",
    "Sure",
    "Unsure",
    "UserChild",
    "UserPhd",
    "UserProfessor",
    "UserUndergraduate",
    "VerySure",
    "VeryUnsure",
]
