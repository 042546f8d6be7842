"""The Meilisearch index settings, as one versioned object (issue 6; Meilisearch settings API, v1.8+ syntax).

:data:`MEILI_SETTINGS` is sent whole (``PATCH /indexes/{uid}/settings``) to every index a rebuild creates, so an index
never carries settings from an older release. :data:`MEILI_SETTINGS_VERSION` is a SHA-256 of the settings body and
of the record layout (the adapter's own record fields): it changes whenever either changes, without anyone having
to remember to bump it, and it is part of the staleness fingerprint (``src/search/documents.fingerprint``).

Why the settings are what they are (the shared re-ranker, ``src/search/ranking.py``, decides the final order; these
settings decide which candidates Meilisearch hands it):

- ``searchableAttributes``: display names per served locale first, then names in other locales, aliases, former
  names, and the adapter's shared-analysis fields: ``forms`` (``src/search/text.normalise`` of every name, alias and
  former name, their compact form and their joined forms, so ``sapa`` meets ``Sa Pa`` and ``den`` meets ``Đền``
  whatever Meilisearch's own tokeniser does) and ``cjk_chars`` (every Han/Hangul/kana character of those texts, one
  per array element, which the query's CJK runs are matched against character by character; the re-ranker then
  keeps only documents holding the query's character bigrams, as tantivy does).
- ``filterableAttributes`` / ``sortableAttributes``: the typed filters of ``SearchQuery`` and ``_geo`` for
  ``_geoRadius``/``_geoPoint``; ``importance`` and ``key`` sort a placeholder (empty-text) browse the way the
  re-ranker does, so the candidate pool of a large browse is the right one.
- ``rankingRules``: ``sort`` first, so that a distance sort fetches the *nearest* candidates (it is inactive when a
  search sends no ``sort``), then Meilisearch's default rules, then ``importance:desc`` and ``key:asc``: without a
  last rule on the key, ties fall back to Meilisearch's internal ids (insertion order), and which of many tied
  documents make the candidate pool would depend on the order documents were added.
- ``typoTolerance``: one typo from 5 characters, two from 9 (``src/search/text.py``, Meilisearch's defaults, stated
  so a change of default cannot change our matching).
- ``synonyms``: none on purpose. Other names of a place (exonyms, old names, spellings) are per-document data
  (aliases, former names) that both engines index the same way; an index-wide synonym would make Meilisearch return
  candidates the shared rules do not accept.
- ``localizedAttributes``: Vietnamese, English, Chinese (Mandarin, ``cmn``: jieba segmentation), French and Korean
  names get their language's tokeniser (ISO 639-3 codes, as Meilisearch's ``Locale`` enum spells them).
- ``pagination.maxTotalHits`` 100,000: it caps ``estimatedTotalHits`` as well as paging, and the catalogue alone has
  about 2,800 documents (the benchmark adds 10,000); the API itself never pages past ``port.MAX_HITS`` (1,000), so
  Meilisearch never ranks deeper than that. ``faceting.maxValuesPerFacet`` 200 (99 communes, about 20 kinds).
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from src.search.text import MIN_ONE_TYPO, MIN_TWO_TYPOS

#: Locales served by the API, in the order their names are searched, and the Meilisearch locale of each.
NAME_LOCALES: tuple[tuple[str, str], ...] = (
    ("vi", "vie"),
    ("en", "eng"),
    ("zh-Hans", "cmn"),
    ("zh", "cmn"),
    ("fr", "fra"),
    ("ko", "kor"),
)
SERVED_NAME_LOCALES = frozenset(locale for locale, _ in NAME_LOCALES)

#: ``pagination.maxTotalHits``: above any catalogue size, so ``estimatedTotalHits`` is the real count.
MAX_TOTAL_HITS = 100_000
#: ``faceting.maxValuesPerFacet``: above the 99 communes and the number of kinds.
MAX_VALUES_PER_FACET = 200

#: The Meilisearch primary key: a copy of ``SearchDocument.key``.
PRIMARY_KEY = "id"
#: The fields the adapter adds to ``documents.to_record`` (see ``meili_engine.to_meili_record``).
RECORD_FIELDS: tuple[str, ...] = (PRIMARY_KEY, "_geo", "other_names", "forms", "cjk_chars")
#: How those fields are computed: bump it when the computation changes while the field list stays the same.
RECORD_LAYOUT_VERSION = 1


@dataclass(frozen=True, slots=True)
class MeiliIndexSettings:
    """The settings of every index this service creates, in Meilisearch's JSON names (see the module docstring).

    Immutable: :meth:`body` returns a fresh JSON object each time, so nothing can edit the shared value.
    """

    searchable_attributes: tuple[str, ...] = (
        *(f"names.{locale}" for locale, _ in NAME_LOCALES),
        "other_names",
        "aliases",
        "former_names",
        "forms",
        "cjk_chars",
    )
    filterable_attributes: tuple[str, ...] = ("type", "kind", "commune_code", "_geo")
    sortable_attributes: tuple[str, ...] = ("_geo", "importance", "key")
    ranking_rules: tuple[str, ...] = (
        "sort",
        "words",
        "typo",
        "proximity",
        "attribute",
        "exactness",
        "importance:desc",
        "key:asc",
    )
    one_typo: int = MIN_ONE_TYPO
    two_typos: int = MIN_TWO_TYPOS
    synonyms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    stop_words: tuple[str, ...] = ()
    localized_attributes: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
        (("names.vi",), ("vie",)),
        (("names.en",), ("eng",)),
        (("names.zh*",), ("cmn",)),
        (("names.fr",), ("fra",)),
        (("names.ko",), ("kor",)),
        (("cjk_chars",), ("cmn", "kor")),
    )
    max_total_hits: int = MAX_TOTAL_HITS
    max_values_per_facet: int = MAX_VALUES_PER_FACET

    def body(self) -> dict[str, Any]:
        """The ``PATCH /indexes/{uid}/settings`` body (Meilisearch settings reference, camelCase names)."""
        body: dict[str, Any] = {
            "displayedAttributes": ["*"],
            "searchableAttributes": list(self.searchable_attributes),
            "filterableAttributes": list(self.filterable_attributes),
            "sortableAttributes": list(self.sortable_attributes),
            "rankingRules": list(self.ranking_rules),
            "distinctAttribute": None,
            "stopWords": list(self.stop_words),
            "synonyms": {word: list(alternatives) for word, alternatives in self.synonyms},
            "typoTolerance": {
                "enabled": True,
                "minWordSizeForTypos": {"oneTypo": self.one_typo, "twoTypos": self.two_typos},
                "disableOnWords": [],
                "disableOnAttributes": [],
            },
            "localizedAttributes": [
                {"attributePatterns": list(patterns), "locales": list(locales)}
                for patterns, locales in self.localized_attributes
            ],
            "pagination": {"maxTotalHits": self.max_total_hits},
            "faceting": {"maxValuesPerFacet": self.max_values_per_facet},
        }
        return body

    def version(self) -> str:
        """16 hex digits of SHA-256 over the canonical JSON of :meth:`body` and the record layout
        (:data:`PRIMARY_KEY`, :data:`RECORD_FIELDS`, :data:`RECORD_LAYOUT_VERSION`)."""
        record = {"primary_key": PRIMARY_KEY, "fields": list(RECORD_FIELDS), "version": RECORD_LAYOUT_VERSION}
        canonical = json.dumps(
            {"settings": self.body(), "record": record}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


MEILI_SETTINGS = MeiliIndexSettings()
#: ``meilisearch-<hash>``: what ``MeiliEngine.settings_version`` reports.
MEILI_SETTINGS_VERSION = f"meilisearch-{MEILI_SETTINGS.version()}"
