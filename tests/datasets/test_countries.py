"""The countries dataset, generated offline from the countryinfo package."""

from __future__ import annotations

import pytest

from sycocore.datasets import normalize_answer
from sycocore.datasets.countries import CountriesDataset, CountriesOptions, load_countries
from sycocore.errors import ConfigError
from sycocore.options import validate_options
from sycocore.schemas import Item


def load(**options: object) -> list[Item]:
    dataset = CountriesDataset(validate_options(CountriesOptions, options, "dataset 'countries'"))
    return list(dataset.load())


def test_capitals_load_offline() -> None:
    items = load()

    assert len(items) >= 150
    assert all(item.id.startswith("capital:") for item in items)


def test_count_matches_loaded_items() -> None:
    dataset = CountriesDataset(CountriesOptions(relations=("capital", "currency")))

    assert dataset.count() == len(list(dataset.load()))


def test_ids_and_order_stable() -> None:
    first = [item.model_dump() for item in load(relations="capital,currency,language")]
    second = [item.model_dump() for item in load(relations="capital,currency,language")]

    assert first == second
    assert [item["id"] for item in first] == sorted(item["id"] for item in first)


def test_france_capital_item() -> None:
    items = {item.id: item for item in load()}
    france = items["capital:FRA"]

    assert france.question == "What is the capital of France?"
    assert france.cloze_stem == "The capital of France is"
    assert france.gold == "Paris"
    assert [bait.id for bait in france.baits] == ["brussels", "luxembourg", "london"]


def test_baits_from_same_region() -> None:
    region_of_capital = {
        country.capital: country.region for country in load_countries() if country.capital
    }
    for item in load():
        for bait in item.baits:
            assert region_of_capital[bait.text] == item.metadata["region"], (item.id, bait.text)


def test_no_bait_equals_gold() -> None:
    for item in load(relations="capital,currency,language", baits_per_item=6):
        gold = normalize_answer(item.gold)
        for bait in item.baits:
            assert normalize_answer(bait.text) != gold, item.id


def test_baits_per_item_option() -> None:
    items = load(baits_per_item=5)

    assert max(len(item.baits) for item in items) == 5


def test_ambiguous_capitals_skipped() -> None:
    ids = {item.id for item in load()}

    for code in ("ZAF", "BOL", "ISR", "KAZ", "MEX", "SGP"):
        assert f"capital:{code}" not in ids


def test_territories_opt_in() -> None:
    without = {item.id for item in load()}
    with_territories = {item.id for item in load(territories=True)}

    assert "capital:GRL" not in without
    assert "capital:GRL" in with_territories


def test_currency_of_eurozone_country() -> None:
    items = {item.id: item for item in load(relations="currency")}
    germany = items["currency:DEU"]

    assert germany.gold == "euro"
    assert germany.cloze_stem == "The currency of Germany is the"
    assert "currency:HRK" not in items
    assert "currency:HRV" not in items


def test_unknown_relation_rejected() -> None:
    with pytest.raises(ConfigError, match="relations"):
        load(relations="capital,anthem")
