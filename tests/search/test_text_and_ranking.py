"""Shared analysis and ranking, as pure functions (the rules both engines rely on)."""

import unicodedata
from dataclasses import replace

import pytest

from src.search.documents import (
    CommuneFacts,
    DestinationFacts,
    commune_document,
    destination_document,
    document_key,
    fingerprint,
    from_record,
    to_record,
)
from src.search.port import SearchDocument, SearchQuery
from src.search.ranking import highlight, query_matches, rank, score
from src.search.text import analyse, analyse_query, cjk_grams, joined_forms, normalise, text_words, typo_budget, typos


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Đèo Ô Quy Hồ", "deo o quy ho"),
        ("đền mẫu", "den mau"),
        ("  Bắc   Hà!! ", "bac ha"),
        ("ＳＡＰＡ", "sapa"),
        (unicodedata.normalize("NFD", "Mù Cang Chải"), "mu cang chai"),
        ("Heaven's Gate", "heaven s gate"),
        ('sa" OR kind = \\hotel', "sa or kind hotel"),
        ("沙坝", "沙坝"),
        ("사파", "사파"),
        ("Ǆ", "dž".replace("ž", "z")),
        ("", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_words_joined_forms_and_grams() -> None:
    assert joined_forms(("phan", "xi", "pang")) == ["phanxi", "xipang", "phanxipang"]
    assert cjk_grams("沙坝梯田") == ["沙", "沙坝", "坝", "坝梯", "梯", "梯田", "田"]
    mixed = analyse("Sa Pa 沙坝 (Lào Cai)")
    assert mixed.words == ("sa", "pa", "lao", "cai")
    assert mixed.cjk == ("沙坝",)
    assert len(analyse_query(" ".join(["x"] * 100)).words) == 12


@pytest.mark.parametrize(
    ("query", "word", "prefix", "expected"),
    [
        ("fansipn", "fansipan", False, 1),
        ("fnasipan", "fansipan", False, 1),  # a transposition is one edit
        ("fansi", "fansipan", True, 0),
        ("fansi", "fansipan", False, None),
        ("bac", "bach", False, None),  # under 5 characters: no typo allowed
        ("mucangchai", "mucangchai", False, 0),
        ("mucanhchaii", "mucangchai", False, 2),
        ("fanzi", "fansipan", True, 1),  # a typo inside a prefix
    ],
)
def test_typos(query: str, word: str, prefix: bool, expected: int | None) -> None:
    assert typos(query, word, prefix=prefix) == expected


def test_typo_budget_follows_meilisearch_defaults() -> None:
    assert [typo_budget("x" * n) for n in (1, 4, 5, 8, 9, 20)] == [0, 0, 1, 1, 2, 2]


def test_text_words_give_code_point_offsets_of_nfc_text() -> None:
    text = unicodedata.normalize("NFD", "Chợ Bắc Hà")
    words = text_words(text)
    nfc = unicodedata.normalize("NFC", text)
    assert [(nfc[s:e], n) for s, e, n in words] == [("Chợ", "cho"), ("Bắc", "bac"), ("Hà", "ha")]


def _doc(key: str, names: dict[str, str], importance: float = 0.2, **extra: object) -> SearchDocument:
    fields: dict[str, object] = {
        "key": key,
        "type": "destination",
        "ref": key,
        "kind": "village",
        "commune_code": None,
        "names": names,
        "aliases": (),
        "former_names": (),
        "commune_names": {},
        "commune_unit_type": None,
        "lat": 22.3,
        "lon": 103.8,
        "importance": importance,
    }
    fields.update(extra)
    return SearchDocument(**fields)  # type: ignore[arg-type]


def test_rank_prefers_matched_words_then_typos_then_exactness_then_attribute_then_importance() -> None:
    query = analyse_query("ta van")
    docs = [
        _doc("b-famous-partial", {"vi": "Tả Van Chư"}, importance=0.9),
        _doc("a-exact", {"vi": "Tả Van"}),
        _doc("c-alias", {"vi": "Bản Khác"}, aliases=("Tả Van",)),
        _doc("d-one-word", {"vi": "Tả Phìn"}, importance=1.0),
        _doc("e-exact-famous", {"vi": "Tả Van"}, importance=0.5),
    ]
    order = [s.document.key for s in rank(((d, None) for d in docs), query, locale="vi")]
    assert order == ["e-exact-famous", "a-exact", "c-alias", "b-famous-partial", "d-one-word"]


def test_ties_break_on_the_key_whatever_the_input_order() -> None:
    query = analyse_query("ban")
    docs = [_doc(f"k{i:02d}", {"vi": "Bản"}) for i in range(20)]
    forward = [s.document.key for s in rank(((d, None) for d in docs), query, locale="vi")]
    backward = [s.document.key for s in rank(((d, None) for d in reversed(docs)), query, locale="vi")]
    assert forward == backward == sorted(forward)


def test_distance_order_breaks_ties_by_relevance() -> None:
    query = analyse_query("ta van")
    near = _doc("z-near-partial", {"vi": "Tả Van Chư"})
    far = _doc("y-far-exact", {"vi": "Tả Van"})
    same = _doc("x-same-exact", {"vi": "Tả Van"})
    ranked = rank([(near, 10.0), (far, 500.0), (same, 10.0)], query, locale="vi", by_distance=True)
    assert [s.document.key for s in ranked] == ["x-same-exact", "z-near-partial", "y-far-exact"]


def test_highlight_marks_the_matched_field_words() -> None:
    query = analyse_query("sapa")
    scored = score(_doc("t", {"vi": "Thị xã Sa Pa", "en": "Sapa"}), query, "vi")
    mark = highlight(scored, query)
    assert mark is not None
    assert mark.field == "name"
    assert [mark.text[s:e] for s, e in mark.spans] in (["Sa", "Pa"], ["Sapa"])
    assert highlight(score(_doc("t", {"vi": "X"}), analyse_query(""), "vi"), analyse_query("")) is None


def test_query_matches_is_the_candidate_rule() -> None:
    doc = _doc("d", {"vi": "Phan Xi Păng"}, aliases=("Fansipan",))
    assert query_matches(doc, analyse_query("fan si pan"))
    assert query_matches(doc, analyse_query("fansipn"))
    assert not query_matches(doc, analyse_query("fansipan summit"))


def _destination(**changes: object) -> DestinationFacts:
    values: dict[str, object] = {
        "slug": "sa-pa",
        "kind": "town",
        "name": "Sa Pa",
        "name_locale": "vi",
        "source": "geonames",
        "population": 36_000,
        "lat": 22.336,
        "lon": 103.844,
        "commune_code": "03006",
        "translations": {"en": "Sapa", "zh-Hans": "沙坝"},
        "aliases": (("Chapa", "historic"), ("Sa Pả", "false-friend"), ("Sa Pa", "official")),
    }
    values.update(changes)
    return DestinationFacts(**values)  # type: ignore[arg-type]


COMMUNE = CommuneFacts(
    code="03006",
    name="Sa Pa",
    full_name="Phường Sa Pa",
    name_en="Sa Pa",
    unit_type="ward",
    rep_lat=22.33,
    rep_lon=103.84,
    old_province="Tỉnh Lào Cai",
    old_districts=("Thị xã Sa Pa",),
    former_units=("Phường Sa Pả", "Phường Ô Quý Hồ"),
)


def test_destination_document() -> None:
    doc = destination_document(_destination(), COMMUNE)
    assert doc.key == "destination-sa-pa"
    assert doc.names == {"en": "Sapa", "zh-Hans": "沙坝", "vi": "Sa Pa"}
    assert doc.aliases == ("Chapa",)  # a false friend names another place; a name is not repeated as an alias
    assert doc.commune_names == {"vi": "Sa Pa", "en": "Sa Pa"}
    village = destination_document(_destination(kind="village", aliases=(), translations={}, population=None), None)
    assert doc.importance > village.importance
    assert from_record(to_record(doc)) == doc


def test_commune_document_carries_the_abolished_names() -> None:
    doc = commune_document(COMMUNE)
    assert doc.key == "commune-03006"
    assert doc.former_names == ("Phường Sa Pả", "Phường Ô Quý Hồ", "Thị xã Sa Pa")
    yen_bai = commune_document(replace(COMMUNE, code="04252", old_province="Tỉnh Yên Bái"))
    assert "Tỉnh Yên Bái" in yen_bai.former_names
    assert "Tỉnh Yên Bái" not in doc.former_names


def test_keys_and_fingerprints() -> None:
    assert document_key("destination", "cat-cat") == "destination-cat-cat"
    assert document_key("commune", "03006") == "commune-03006"
    assert document_key("destination", "wikipedia:vi:Đèo") == "destination-wikipedia_vi___o"
    docs = [commune_document(COMMUNE), destination_document(_destination(), COMMUNE)]
    assert fingerprint(docs, "v1") == fingerprint(list(reversed(docs)), "v1")
    assert fingerprint(docs, "v1") != fingerprint(docs, "v2")
    assert fingerprint(docs[:1], "v1") != fingerprint(docs, "v1")


def test_search_query_checks_its_own_invariants() -> None:
    with pytest.raises(ValueError, match="offset"):
        SearchQuery(offset=990, limit=20)
    with pytest.raises(ValueError, match="point"):
        SearchQuery(sort="distance")
