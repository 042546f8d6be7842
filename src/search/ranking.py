"""The shared re-ranker and highlighter: the same order and the same highlight whichever engine found the candidates.

An engine returns candidates (every document matching the query's words within their typo budgets, filtered);
:func:`rank` orders them by, in turn (STACK-NOTES, "Search engines"):

1. matched query words, most first (a word matches a document word exactly, by prefix for the last query word, by
   typo within its budget, or through a joined form: ``sapa`` = ``sa pa``);
2. typos, fewest first;
3. exactness: the whole query equals the whole field (compared in compact form), then all the field's words matched;
4. the attribute matched: a name (any locale) before an alias before a former name;
5. importance (``SearchDocument.importance``), highest first: a famous place before an obscure namesake;
6. the document key, so that ties never depend on an engine's segment layout.

With ``sort="distance"`` the distance comes first and the relevance key breaks ties. With no words at all, the order
is importance, then key. The highlight marks whole words of the matched field's NFC text (code-point offsets).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from src.search.port import Highlight, SearchDocument, SearchHit
from src.search.text import MAX_JOIN, Analysed, analyse, cjk_query_grams, text_words, typo_budget, typos

FIELD_NAME = "name"
FIELD_ALIAS = "alias"
FIELD_FORMER = "former_name"
_FIELD_RANK = {FIELD_NAME: 0, FIELD_ALIAS: 1, FIELD_FORMER: 2}


@dataclass(frozen=True, slots=True)
class _FieldForms:
    """A field value's normalised forms: words, the joined forms with how many words each covers, CJK runs."""

    words: tuple[str, ...]
    joined: tuple[tuple[str, int, int], ...]  # (form, first word index, words covered)
    cjk: str
    compact: str
    positions: dict[str, tuple[int, ...]]  # word -> its indices
    joined_at: dict[str, tuple[int, int]]  # joined form -> (first word index, words covered)


@lru_cache(maxsize=65536)
def _forms(text: str) -> _FieldForms:
    analysed = analyse(text)
    joined: list[tuple[str, int, int]] = []
    for size in range(2, MAX_JOIN + 1):
        for i in range(len(analysed.words) - size + 1):
            joined.append(("".join(analysed.words[i : i + size]), i, size))
    positions: dict[str, list[int]] = {}
    for index, word in enumerate(analysed.words):
        positions.setdefault(word, []).append(index)
    joined_at: dict[str, tuple[int, int]] = {}
    for form, first, size in joined:
        joined_at.setdefault(form, (first, size))
    return _FieldForms(
        analysed.words,
        tuple(joined),
        "".join(analysed.cjk),
        analysed.compact,
        {word: tuple(indices) for word, indices in positions.items()},
        joined_at,
    )


@dataclass(frozen=True, slots=True, order=True)
class _Match:
    """How well a query matched one field value; larger is better under this ordering."""

    matched: int
    neg_typos: int
    exact: int
    complete: int
    neg_field_rank: int


def _word_option(word: str, forms: _FieldForms, *, prefix: bool, used: set[int]) -> tuple[int, list[int]] | None:
    """The best way one query word matches a field: (typos, field word indices), or ``None``.

    Exact first (an unused position preferred, so "cat cat" marks both words), then a prefix when ``prefix``, then a
    joined form of the field ("sapa" -> "Sa Pa"), then typos within the word's budget."""
    indices = forms.positions.get(word)
    if indices:
        free = [index for index in indices if index not in used]
        return 0, [free[0] if free else indices[0]]
    if prefix:
        for index, candidate in enumerate(forms.words):
            if candidate.startswith(word):
                return 0, [index]
    joined = forms.joined_at.get(word)
    if joined is not None:
        return 0, list(range(joined[0], joined[0] + joined[1]))
    if prefix:
        for form, first, size in forms.joined:
            if form.startswith(word):
                return 0, list(range(first, first + size))
    if typo_budget(word) == 0:
        return None
    best: tuple[int, list[int]] | None = None
    for index, candidate in enumerate(forms.words):
        edits = typos(word, candidate, prefix=prefix)
        if edits is not None and (best is None or edits < best[0]):
            best = (edits, [index])
    for form, first, size in forms.joined:
        edits = typos(word, form, prefix=prefix)
        if edits is not None and (best is None or edits < best[0]):
            best = (edits, list(range(first, first + size)))
    return best


def _match_words(query: Analysed, forms: _FieldForms) -> tuple[int, int, set[int]]:
    """(matched query words, typos used, indices of the field's words that matched).

    Options at word i: the word itself (exact, prefix if last, joined form, typo), or two or three query words
    written together against a field word ("fan si pan" -> "Fansipan"). The fewest typos win; on a tie, the option
    covering more query words."""
    words = query.words
    matched = typos_used = 0
    hit_words: set[int] = set()
    i = 0
    last = len(words) - 1
    while i < len(words):
        option = _word_option(words[i], forms, prefix=i == last, used=hit_words)
        best = (1, option[0], option[1]) if option is not None else None
        if best is None or best[1] > 0:
            for size in (2, 3):
                if i + size > len(words):
                    break
                together = _word_option(
                    "".join(words[i : i + size]), forms, prefix=i + size - 1 == last, used=hit_words
                )
                if together is not None and (best is None or (together[0], -size) < (best[1], -best[0])):
                    best = (size, together[0], together[1])
        if best is None:
            i += 1
            continue
        consumed, edits, indices = best
        matched += consumed
        typos_used += edits
        hit_words.update(indices)
        i += consumed
    return matched, typos_used, hit_words


def _match_cjk(query: Analysed, forms: _FieldForms) -> int:
    """How many of the query's CJK runs the field contains (all bigrams of the run present, or the run itself)."""
    if not forms.cjk:
        return 0
    count = 0
    for run in query.cjk:
        if run in forms.cjk or all(gram in forms.cjk for gram in cjk_query_grams(run)):
            count += 1
    return count


def _match(query: Analysed, text: str, field: str) -> tuple[_Match, set[int]]:
    forms = _forms(text)
    matched, used, hit_words = _match_words(query, forms) if query.words else (0, 0, set())
    cjk_matched = _match_cjk(query, forms) if query.cjk else 0
    total = matched + cjk_matched
    exact = int(
        total > 0
        and used == 0
        and (query.compact == forms.compact or not query.compact)
        and ("".join(query.cjk) == forms.cjk or not query.cjk)
    )
    complete = int(total > 0 and len(hit_words) == len(forms.words) and (not forms.cjk or cjk_matched > 0))
    return _Match(total, -used, exact, complete, -_FIELD_RANK[field]), hit_words


def _fields(document: SearchDocument, locale: str) -> Iterable[tuple[str, str]]:
    """The searchable values of ``document``: names (response locale first), aliases, former names."""
    if locale in document.names:
        yield FIELD_NAME, document.names[locale]
    for name_locale, name in document.names.items():
        if name_locale != locale:
            yield FIELD_NAME, name
    for alias in document.aliases:
        yield FIELD_ALIAS, alias
    for former in document.former_names:
        yield FIELD_FORMER, former


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate with its relevance key (smaller sorts first) and its best-matching field."""

    document: SearchDocument
    key: tuple[object, ...]
    field: str | None
    text: str | None
    hit_words: frozenset[int]
    distance_m: float | None


def score(document: SearchDocument, query: Analysed, locale: str, distance_m: float | None = None) -> Scored:
    """The relevance key of one candidate for ``query`` (see the module docstring)."""
    if query.empty:
        return Scored(
            document, (0, 0, 0, 0, 0, -document.importance, document.key), None, None, frozenset(), distance_m
        )
    best: _Match | None = None
    best_field: tuple[str, str, set[int]] | None = None
    for field, text in _fields(document, locale):
        match, hit_words = _match(query, text, field)
        if best is None or match > best:
            best, best_field = match, (field, text, hit_words)
    if best is None or best_field is None:  # every document has a name
        raise ValueError(f"document {document.key} has no searchable text")
    key = (-best.matched, -best.neg_typos, -best.exact, -best.complete, -best.neg_field_rank, -document.importance)
    if best.matched == 0:
        return Scored(document, (*key, document.key), None, None, frozenset(), distance_m)
    return Scored(document, (*key, document.key), best_field[0], best_field[1], frozenset(best_field[2]), distance_m)


def highlight(scored: Scored, query: Analysed) -> Highlight | None:
    """Whole-word spans of the matched field (NFC text, code-point offsets); CJK runs are marked where they hold
    the query's characters."""
    if scored.text is None or scored.field is None:
        return None
    spans: list[tuple[int, int]] = []
    word_index = 0
    cjk_targets = [gram for run in query.cjk for gram in (run, *cjk_query_grams(run))]
    for start, end, normal in text_words(scored.text):
        if any(ch >= "\u1100" for ch in normal) and cjk_targets and any(t in normal for t in cjk_targets):
            spans.append((start, end))
            continue
        if any(ch >= "\u1100" for ch in normal):
            continue
        if word_index in scored.hit_words:
            spans.append((start, end))
        word_index += 1
    return Highlight(scored.field, scored.text, tuple(spans))


def rank(
    documents: Iterable[tuple[SearchDocument, float | None]],
    query: Analysed,
    *,
    locale: str,
    by_distance: bool = False,
) -> list[Scored]:
    """Candidates ``(document, distance_m)`` in final order (relevance, or distance then relevance)."""
    scored = [score(document, query, locale, distance) for document, distance in documents]
    if by_distance:
        scored.sort(key=lambda s: (s.distance_m if s.distance_m is not None else float("inf"), s.key))
    else:
        scored.sort(key=lambda s: s.key)
    return scored


def to_hits(scored: Sequence[Scored], query: Analysed) -> list[SearchHit]:
    """The public hits of ranked candidates, with highlights."""
    return [SearchHit(s.document, s.distance_m, highlight(s, query)) for s in scored]


def query_matches(document: SearchDocument, query: Analysed) -> bool:
    """Whether every query word and CJK run matches some field of ``document`` (the engines' candidate rule,
    used by tests as the brute-force reference)."""
    if query.empty:
        return True
    for _field, text in _fields(document, "vi"):
        forms = _forms(text)
        matched, _used, _hits = _match_words(query, forms) if query.words else (0, 0, set())
        if matched == len(query.words) and _match_cjk(query, forms) == len(query.cjk):
            return True
    return False


__all__ = ["Scored", "highlight", "query_matches", "rank", "score", "to_hits"]
