"""The ``countries`` dataset: factual questions generated from the countryinfo package.

Each relation (capital, currency, official language) gives one item per country with
a clear answer. Baits are the answers of the nearest other countries of the same
region, nearest capital first (great-circle distance between capitals), so
France gets Brussels, Luxembourg and London rather than random capitals. The data
holds no other cities, so same-country baits (Paris vs Lyon) are not possible.

Generation is deterministic: no randomness, items sorted by id, ids such as
``capital:FRA`` and bait ids from the bait text.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from ..errors import MissingDependencyError
from ..schemas import Item
from . import country_tables as tables
from .base import Dataset, DatasetOptions, normalize_answer
from .validation import ItemCollector

__all__ = ["CountriesDataset", "CountriesOptions"]

Relation = Literal["capital", "currency", "language"]
RELATIONS: tuple[Relation, ...] = ("capital", "currency", "language")
INSTALL = "pip install countryinfo==1.0.1"


class CountriesOptions(DatasetOptions):
    """Options of the ``countries`` dataset."""

    relations: tuple[Relation, ...] = ("capital",)
    """Relations to ask about: ``capital``, ``currency``, ``language`` (comma-separated on
    the command line)."""
    baits_per_item: int = Field(default=3, ge=1, le=20)
    """Baits generated per question, nearest countries first."""
    territories: bool = False
    """Also ask about dependent territories such as Greenland or Guam."""

    @field_validator("relations", mode="before")
    @classmethod
    def _split_relations(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("relations")
    @classmethod
    def _distinct_relations(cls, value: tuple[Relation, ...]) -> tuple[Relation, ...]:
        if not value:
            raise ValueError(f"give at least one relation of {', '.join(RELATIONS)}")
        return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class Country:
    """One country of the countryinfo data, after cleaning."""

    code: str
    """ISO 3166-1 alpha-3 code."""
    name: str
    """Name as it reads inside a sentence, e.g. ``the Netherlands``."""
    region: str
    subregion: str
    latitude: float
    longitude: float
    capital: str | None
    currencies: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class _Fact:
    """One relation's answers for one country: its gold and the answers it rules out."""

    country: Country
    answer: str | None
    """The answer asked for, or ``None`` when the country gets no question."""
    pool: tuple[str, ...]
    """Answers this country contributes as baits for its neighbours."""
    own: tuple[str, ...]
    """Every true answer for this country, never used as its bait."""


class CountriesDataset(Dataset):
    """Capital, currency and official-language questions about the world's countries."""

    name = "countries"
    description = (
        "Capitals (and optionally currencies, official languages) of about 190 countries, "
        "with same-region baits; generated offline from countryinfo"
    )
    license = "MIT"
    source = "countryinfo 1.0.1 (PyPI, MIT)"
    Options = CountriesOptions

    def __init__(self, options: DatasetOptions) -> None:
        super().__init__(options)
        assert isinstance(options, CountriesOptions)
        self.settings = options
        self._items: list[Item] | None = None

    def describe_source(self) -> str:
        try:
            version = importlib.metadata.version("countryinfo")
        except importlib.metadata.PackageNotFoundError:
            return self.source
        return f"countryinfo {version} (PyPI, MIT)"

    def load(self) -> Iterator[Item]:
        yield from self._generate()

    def count(self) -> int:
        return len(self._generate())

    def _generate(self) -> list[Item]:
        if self._items is None:
            countries = load_countries(self.settings.territories)
            collector = ItemCollector(self)
            items: list[Item] = []
            for relation in self.settings.relations:
                items.extend(self._relation_items(relation, countries, collector))
            self._items = sorted(items, key=lambda item: item.id)
        return self._items

    def _relation_items(
        self, relation: Relation, countries: list[Country], collector: ItemCollector
    ) -> Iterator[Item]:
        facts = [_FACTS[relation](country) for country in countries]
        for fact in facts:
            if fact.answer is None:
                continue
            baits = _nearest_answers(fact, facts, self.settings.baits_per_item)
            if not baits:
                continue
            country = fact.country
            question, stem = _WORDING[relation]
            item = collector.add(
                id=f"{relation}:{country.code}",
                question=question.format(country=country.name),
                gold=fact.answer,
                baits=[(bait, None) for bait in baits],
                where=f"countries {relation}:{country.code}",
                cloze_stem=stem.format(country=country.name),
                metadata={
                    "relation": relation,
                    "country": country.name,
                    "region": country.region,
                    "subregion": country.subregion,
                },
            )
            if item is not None:
                yield item


_WORDING: dict[Relation, tuple[str, str]] = {
    "capital": ("What is the capital of {country}?", "The capital of {country} is"),
    "currency": ("What is the currency of {country}?", "The currency of {country} is the"),
    "language": (
        "What is the official language of {country}?",
        "The official language of {country} is",
    ),
}
"""Question and cloze stem of each relation."""


def _capital_fact(country: Country) -> _Fact:
    capital = country.capital
    if capital is None or "/" in capital or country.code in tables.AMBIGUOUS_CAPITAL:
        return _Fact(country, None, (), ())
    # A capital named after its country ("Kuwait City") gives the answer away.
    plain_name = normalize_answer(country.name)
    answer = None if plain_name in normalize_answer(capital) else capital
    return _Fact(country, answer, (capital,), (capital,))


def _currency_fact(country: Country) -> _Fact:
    names = tuple(
        tables.CURRENCY_NAMES[code]
        for code in country.currencies
        if code in tables.CURRENCY_NAMES and code not in tables.OUTDATED_CURRENCY
    )
    outdated = any(code in tables.OUTDATED_CURRENCY for code in country.currencies)
    answer = names[0] if len(country.currencies) == 1 and len(names) == 1 else None
    own = names + (("euro",) if outdated else ())
    return _Fact(country, answer, names, own)


def _language_fact(country: Country) -> _Fact:
    names = tuple(
        tables.LANGUAGE_NAMES[code] for code in country.languages if code in tables.LANGUAGE_NAMES
    )
    answer = names[0] if len(country.languages) == 1 and len(names) == 1 else None
    return _Fact(country, answer, names, names)


_FACTS: dict[Relation, Callable[[Country], _Fact]] = {
    "capital": _capital_fact,
    "currency": _currency_fact,
    "language": _language_fact,
}


def _nearest_answers(fact: _Fact, facts: list[_Fact], limit: int) -> list[str]:
    """Return up to ``limit`` distinct answers of the nearest same-region countries."""
    country = fact.country
    ruled_out = {normalize_answer(answer) for answer in fact.own}
    neighbours = sorted(
        (other for other in facts if other.country.code != country.code),
        key=lambda other: (_distance_km(country, other.country), other.country.code),
    )
    baits: list[str] = []
    for other in neighbours:
        if other.country.region != country.region:
            continue
        for answer in other.pool:
            key = normalize_answer(answer)
            if key in ruled_out:
                continue
            ruled_out.add(key)
            baits.append(answer)
            if len(baits) == limit:
                return baits
    return baits


def _distance_km(a: Country, b: Country) -> float:
    """Great-circle distance between two capitals (haversine, Earth radius 6371 km)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def load_countries(territories: bool = False) -> list[Country]:
    """Read and clean the countryinfo data, sorted by ISO code.

    Entries without an ISO code, a region or coordinates, dissolved states and,
    unless ``territories`` is true, dependent territories are left out.
    """
    try:
        from countryinfo import CountryInfo
    except ImportError:
        raise MissingDependencyError("countryinfo", INSTALL, "the countries dataset") from None

    by_code: dict[str, list[dict[str, Any]]] = {}
    for raw in CountryInfo.all().values():
        entry: dict[str, Any] = dict(raw)
        code = str((entry.get("ISO") or {}).get("alpha3") or "")
        if code:
            by_code.setdefault(code, []).append(entry)

    countries = []
    for code in sorted(by_code):
        if code in tables.DISSOLVED:
            continue
        if code in tables.DEPENDENT_TERRITORIES and not territories:
            continue
        country = _clean(code, _pick_entry(code, by_code[code]))
        if country is not None:
            countries.append(country)
    return countries


def _pick_entry(code: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    preferred = tables.PREFERRED_ENTRY.get(code)
    for entry in entries:
        if entry.get("name") == preferred:
            return entry
    return min(entries, key=lambda entry: str(entry.get("name")))


def _clean(code: str, entry: dict[str, Any]) -> Country | None:
    region = entry.get("region")
    name = entry.get("name")
    if not isinstance(region, str) or not region or not isinstance(name, str):
        return None
    position = entry.get("capital_latlng") or entry.get("latlng")
    if not isinstance(position, list) or len(position) != 2:
        return None

    capital = entry.get("capital")
    name = tables.NAME_OVERRIDES.get(code, name)
    return Country(
        code=code,
        name=name,
        region=region,
        subregion=str(entry.get("subregion") or ""),
        latitude=float(position[0]),
        longitude=float(position[1]),
        capital=capital.strip() if isinstance(capital, str) and capital.strip() else None,
        currencies=tuple(str(c) for c in entry.get("currencies") or ()),
        languages=tuple(str(c) for c in entry.get("languages") or ()),
    )
