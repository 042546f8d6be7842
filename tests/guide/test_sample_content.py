"""The sample guide content (``data/guide/sample_content.json``) states only facts of the shipped files.

Every referenced source id is a destination of the catalogue as the importer reads it (``load_catalogue``: merged
records are gone, so a reference to one fails), every commune code is a 2025 commune, every number followed by
``m`` or ``km`` in any text is an elevation, an offset or a threshold of the data or the haversine length of the
tour (rounded as written), and the commune articles list exactly the former units of the merge table."""

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import parse_decimal

from src.guide.geo import haversine_m
from src.guide.importer import Catalogue, load_catalogue
from src.guide.service import SLUG

DATA = Path(__file__).resolve().parents[2] / "data"
SAMPLE = DATA / "guide" / "sample_content.json"
#: A number as vi (1.491 / 4,9), en (1,491 / 4.9) or fr (1 491 / 4,9) write it, then a unit.
_MEASURE = re.compile(r"(?<![\w.,])(\d[\d.,\u202f]*\d|\d) (km|m)(?!\w)")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DATA)


@pytest.fixture(scope="module")
def content() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return document


def _texts(item: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for locale, fields in item["translations"].items():
        for value in fields.values():
            yield locale, value


def _measures(text: str, locale: str) -> list[tuple[Decimal, str]]:
    return [(parse_decimal(number, locale=locale), unit) for number, unit in _MEASURE.findall(text)]


def _length_km(catalogue: Catalogue, stops: list[str]) -> float:
    points = [catalogue.destinations[s].values for s in stops]
    return sum(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]) for a, b in pairwise(points)) / 1000


def test_items_are_well_formed_samples(content: dict[str, Any]) -> None:
    assert content["format"] == "laocai-guide-sample-content/1"
    assert content["is_sample"] is True
    items = content["items"]
    slugs = [item["slug"] for item in items]
    assert len(slugs) == len(set(slugs))
    assert all(SLUG.fullmatch(slug) for slug in slugs)
    kinds = [item["kind"] for item in items]
    assert {"tour", "article"} == set(kinds)
    assert 3 <= kinds.count("tour") <= 4
    assert 2 <= kinds.count("article") <= 3
    for item in items:
        assert item["is_sample"] is True
        assert item["topics"]
        assert all(re.fullmatch(r"[a-z0-9-]+", topic) for topic in item["topics"])
        for locale in ("vi", "en"):
            fields = item["translations"][locale]
            assert fields["title"].strip()
            assert fields["summary"].strip()
            assert fields["body" if item["kind"] == "article" else "safety_notes"].strip()
        assert set(item["translations"]) <= {"vi", "en", "zh-Hans", "fr", "ko"}


def test_references_exist(content: dict[str, Any], catalogue: Catalogue) -> None:
    for item in content["items"]:
        assert all(source_id in catalogue.destinations for source_id in item["destinations"]), item["slug"]
        assert item["communes"]
        assert all(code in catalogue.communes for code in item["communes"]), item["slug"]
        if item["kind"] == "tour":
            stops = item["stops"]
            assert 3 <= len(stops) <= 6
            assert len(set(stops)) == len(stops)
            assert set(stops) <= set(item["destinations"])
            assert {catalogue.destinations[s].values["commune_code"] for s in stops} <= set(item["communes"])


def test_tours_state_their_stops_elevations_and_length(content: dict[str, Any], catalogue: Catalogue) -> None:
    tours = [item for item in content["items"] if item["kind"] == "tour"]
    assert any(set(t["communes"]) == {"03006"} for t in tours)
    assert any(set(t["communes"]) == {"02839"} for t in tours)
    for tour in tours:
        summary = tour["translations"]["en"]["summary"]
        stated = _measures(summary, "en")
        for stop in tour["stops"]:
            values = catalogue.destinations[stop].values
            assert values["name"] in summary, (tour["slug"], values["name"])
            elevation = values["elevation_m"] or values["dem_m"]
            assert (Decimal(elevation), "m") in stated, (tour["slug"], values["name"])
        length = Decimal(f"{_length_km(catalogue, tour['stops']):.1f}")
        for locale, text in _texts(tour):
            kms = [number for number, unit in _measures(text, locale) if unit == "km"]
            assert all(km == length for km in kms), (tour["slug"], locale, kms, length)
        assert (length, "km") in stated


def test_every_number_in_a_text_is_in_the_data(content: dict[str, Any], catalogue: Catalogue) -> None:
    for item in content["items"]:
        allowed_m: set[Decimal] = set()
        for source_id in item["destinations"]:
            values = catalogue.destinations[source_id].values
            allowed_m |= {Decimal(values[k]) for k in ("elevation_m", "dem_m", "outside_by_m") if values[k]}
        if "criteria" in item:
            allowed_m.add(Decimal(item["criteria"]["min_elevation_m"]))
        allowed_km = {Decimal(f"{_length_km(catalogue, item['stops']):.1f}")} if item["kind"] == "tour" else set()
        for locale, text in _texts(item):
            for number, unit in _measures(text, locale):
                assert number in (allowed_m if unit == "m" else allowed_km), (item["slug"], locale, number, unit)


def test_peaks_article_lists_exactly_the_peaks_above_its_threshold(
    content: dict[str, Any], catalogue: Catalogue
) -> None:
    (article,) = [item for item in content["items"] if "criteria" in item]
    kinds, threshold = set(article["criteria"]["kinds"]), article["criteria"]["min_elevation_m"]
    expected = {
        source_id
        for source_id, record in catalogue.destinations.items()
        if record.values["kind"] in kinds
        and max(record.values["elevation_m"] or 0, record.values["dem_m"] or 0) > threshold
    }
    assert set(article["destinations"]) == expected
    assert {catalogue.destinations[s].values["commune_code"] for s in expected} == set(article["communes"])
    body = article["translations"]["en"]["body"]
    for source_id in expected:
        values = catalogue.destinations[source_id].values
        for key in ("elevation_m", "dem_m"):
            if values[key]:
                assert f"{values[key]:,} m" in body, (source_id, key)


def test_commune_articles_follow_the_merge_table(content: dict[str, Any], catalogue: Catalogue) -> None:
    articles = [item for item in content["items"] if "former_district" in item]
    assert articles
    for article in articles:
        district = article["former_district"]
        units = [unit for unit in catalogue.former_units.values() if unit["commune_code"] in article["communes"]]
        assert {u["commune_code"] for u in units if u["old_district"] == district} == set(article["communes"])
        for locale in ("vi", "en"):
            body = article["translations"][locale]["body"]
            for unit in units:
                assert unit["old_name"] in body, (article["slug"], locale, unit["old_name"])
            for code in article["communes"]:
                assert f"{catalogue.communes[code]['full_name']} ({code})" in body
