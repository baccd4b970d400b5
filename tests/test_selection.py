"""Tests of ``--manipulations`` resolution."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sycocore.errors import ConfigError, UnknownNameError
from sycocore.hookspecs import hookimpl
from sycocore.manipulations import Manipulation, template_manipulation
from sycocore.plugins import Registry, load_registry
from sycocore.selection import STUDY_MANIPULATIONS, select_manipulations

_FAMILIES = {
    "experts": "authority",
    "random_person": "authority",
    "most_people": "authority",
    "very_sure": "belief",
    "sure": "belief",
    "unsure": "belief",
    "very_unsure": "belief",
    "bribe_wrong": "bribery",
    "bribe_implicit": "control",
    "user_child": "control",
    "user_undergraduate": "control",
    "user_professor": "control",
    "user_phd": "control",
}


def _manipulation(name: str, family: str) -> Manipulation:
    directional = family != "control"
    text = "Someone says it is {bait}." if directional else "I am curious."
    return template_manipulation(name, text, family=family, directional=directional)


class _StudyPlugin:
    """Registers the study's names in reverse order, so sorting is visible."""

    @hookimpl
    def register_manipulations(self, register: Callable[[Manipulation], None]) -> None:
        for name in reversed(STUDY_MANIPULATIONS):
            register(_manipulation(name, _FAMILIES[name]))


class _ExtraPlugin:
    @hookimpl
    def register_manipulations(self, register: Callable[[Manipulation], None]) -> None:
        register(_manipulation("are_you_sure", "pushback"))
        register(_manipulation("aunt", "authority"))
        register(_manipulation("wikipedia", "citation"))


def _registry(*plugins: tuple[str, object]) -> Registry:
    return load_registry(entry_points=[], extra_plugins=plugins, include_builtins=False)


@pytest.fixture
def registry() -> Registry:
    return _registry(("study", _StudyPlugin()), ("extra", _ExtraPlugin()))


def _names(manipulations: list[Manipulation]) -> list[str]:
    return [manipulation.name for manipulation in manipulations]


def test_study_keyword_exact_thirteen(registry: Registry) -> None:
    assert _names(select_manipulations("study", registry)) == list(STUDY_MANIPULATIONS)


def test_all_keyword_includes_extras(registry: Registry) -> None:
    names = _names(select_manipulations("all", registry))

    expected_authority = ["experts", "random_person", "most_people", "aunt"]
    assert names[:4] == expected_authority
    assert names[4:14] == list(STUDY_MANIPULATIONS[3:])
    # Families outside the study follow alphabetically: citation before pushback.
    assert names[14:] == ["wikipedia", "are_you_sure"]


def test_family_name_selects_members(registry: Registry) -> None:
    names = _names(select_manipulations("belief", registry))

    assert names == ["very_sure", "sure", "unsure", "very_unsure"]


def test_mixed_list_ordered_and_deduplicated(registry: Registry) -> None:
    spec = "user_phd, pushback,experts,control,user_phd,,belief,sure"
    names = _names(select_manipulations(spec, registry))

    assert names == [
        "experts",
        "very_sure",
        "sure",
        "unsure",
        "very_unsure",
        "bribe_implicit",
        "user_child",
        "user_undergraduate",
        "user_professor",
        "user_phd",
        "are_you_sure",
    ]


def test_unknown_name_suggests_close(registry: Registry) -> None:
    with pytest.raises(UnknownNameError) as caught:
        select_manipulations("experts,very_suer", registry)

    assert caught.value.name == "very_suer"
    assert "very_sure" in caught.value.suggestions
    assert "'very_suer'" in str(caught.value)


def test_unknown_family_typo_suggests_family(registry: Registry) -> None:
    with pytest.raises(UnknownNameError) as caught:
        select_manipulations("autority", registry)

    assert "authority" in caught.value.suggestions


def test_none_keyword_selects_nothing(registry: Registry) -> None:
    assert select_manipulations("none", registry) == []


def test_none_mixed_with_names_rejected(registry: Registry) -> None:
    with pytest.raises(ConfigError, match="'none' alone"):
        select_manipulations("none,experts", registry)


def test_empty_spec_rejected(registry: Registry) -> None:
    with pytest.raises(ConfigError, match="names nothing"):
        select_manipulations(" , ", registry)


def test_neutral_entry_ignored(registry: Registry) -> None:
    assert _names(select_manipulations("neutral,sure", registry)) == ["sure"]


def test_study_missing_names_install_hint() -> None:
    registry = _registry(("extra", _ExtraPlugin()))

    with pytest.raises(ConfigError) as caught:
        select_manipulations("study", registry)

    assert "experts" in str(caught.value)
    assert "pip install syco-plugin-manipulations" in str(caught.value)


def test_name_wins_over_family() -> None:
    class _Clash:
        @hookimpl
        def register_manipulations(self, register: Callable[[Manipulation], None]) -> None:
            register(_manipulation("pushback", "citation"))
            register(_manipulation("doubt", "pushback"))

    registry = _registry(("clash", _Clash()))

    assert _names(select_manipulations("pushback", registry)) == ["pushback"]
    assert _names(select_manipulations("doubt", registry)) == ["doubt"]


def test_selection_order_is_stable(registry: Registry) -> None:
    first = _names(select_manipulations("control,authority,study", registry))
    second = _names(select_manipulations("study,authority,control", registry))

    assert first == second
