"""Text analysis shared by both engines, at index time and at query time (STACK-NOTES: normalise in shared code).

``normalise("Đèo Ô Quy Hồ")`` -> ``"deo o quy ho"``: Unicode NFKC (full-width and compatibility forms, UAX #15),
case folding (Unicode ``casefold``), tone marks and other combining marks removed after canonical decomposition,
``đ`` -> ``d`` (Vietnamese ``đ`` is a letter of its own, not a ``d`` with a combining mark, so decomposition keeps
it), recomposed to NFC (so Hangul syllables, which NFD splits into jamo, come back whole), every character that is
not a letter or digit read as a space. A query sent in NFD therefore meets the same words as one sent in NFC.

Words are split into two streams:
- **Latin and other space-separated scripts**: words, and their *joined forms* (two or three adjacent words written
  together, ``sa pa`` -> ``sapa``), so that "sapa" finds "Sa Pa" and "fan si pan" finds "Fansipan";
- **CJK** (Han, Hangul, kana): runs of such characters, matched through character n-grams (1 and 2), because no
  engine here has a Chinese or Korean word splitter (STACK-NOTES; Meilisearch segments Chinese itself).

Typo budget per word (Meilisearch's defaults, ``typoTolerance.minWordSizeForTypos``): no typo below 5 characters,
one from 5, two from 9. Distances are optimal string alignment (a transposition counts as one edit).
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from src.search.port import MAX_QUERY_WORDS

_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK Extensions B-G
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
_IS_CJK = re.compile(f"[{_CJK}]")
_NOT_WORD = re.compile(r"[\W_]+")
#: Words of an NFC display text, as offsets for highlights: letters/digits runs, CJK runs taken separately.
_TEXT_WORD = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")

MIN_ONE_TYPO = 5
MIN_TWO_TYPOS = 9
#: Adjacent words joined into one form, at most this many (``phan xi pang`` -> ``phanxipang``).
MAX_JOIN = 3


def normalise(text: str) -> str:
    """Return ``text`` in the search form: NFKC, case-folded, marks stripped, ``đ`` -> ``d``, NFC, punctuation
    read as spaces, white space collapsed. ``"  Bắc  Hà!"`` -> ``"bac ha"``; ``"ＳＡＰＡ"`` -> ``"sapa"``."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", folded)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFC", stripped)).split())


def is_cjk(text: str) -> bool:
    """Whether ``text`` holds any Han, Hangul or kana character."""
    return _IS_CJK.search(text) is not None


@dataclass(frozen=True, slots=True)
class Analysed:
    """A normalised text cut into what the engines index and match.

    Attributes:
        words: space-separated words (Latin and other non-CJK scripts), in order.
        cjk: runs of CJK characters, in order.
        compact: ``words`` joined without spaces (``"sa pa"`` -> ``"sapa"``).
    """

    words: tuple[str, ...]
    cjk: tuple[str, ...]
    compact: str

    @property
    def empty(self) -> bool:
        """No word and no CJK run: a browse."""
        return not self.words and not self.cjk


@lru_cache(maxsize=65536)
def analyse(text: str) -> Analysed:
    """Normalise ``text`` and split it into words and CJK runs (cached: document names repeat across queries)."""
    normal = normalise(text)
    cjk = tuple(_CJK_RUN.findall(normal))
    words = tuple(_CJK_RUN.sub(" ", normal).split())
    return Analysed(words, cjk, "".join(words))


def analyse_query(text: str) -> Analysed:
    """``analyse`` for what a user typed, keeping at most ``MAX_QUERY_WORDS`` words and CJK runs."""
    analysed = analyse(text)
    return Analysed(analysed.words[:MAX_QUERY_WORDS], analysed.cjk[:MAX_QUERY_WORDS], analysed.compact)


def joined_forms(words: tuple[str, ...], max_join: int = MAX_JOIN) -> list[str]:
    """Adjacent words written together, two to ``max_join`` at a time: ``(phan, xi, pang)`` -> ``[phanxi, xipang,
    phanxipang]``."""
    forms: list[str] = []
    for size in range(2, max_join + 1):
        forms.extend("".join(words[i : i + size]) for i in range(len(words) - size + 1))
    return forms


def cjk_grams(run: str) -> list[str]:
    """Character unigrams and bigrams of a CJK run, in order: ``沙坝`` -> ``[沙, 沙坝, 坝]``."""
    grams: list[str] = []
    for i, char in enumerate(run):
        grams.append(char)
        if i + 1 < len(run):
            grams.append(run[i : i + 2])
    return grams


def cjk_query_grams(run: str) -> list[str]:
    """The grams a CJK query run must all match: its bigrams (a single character: itself)."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def typo_budget(word: str) -> int:
    """How many typos a query word may carry: 0 below 5 characters, 1 from 5, 2 from 9 (Meilisearch defaults)."""
    if len(word) >= MIN_TWO_TYPOS:
        return 2
    return 1 if len(word) >= MIN_ONE_TYPO else 0


def typos(query_word: str, word: str, *, prefix: bool) -> int | None:
    """Edits from ``query_word`` to ``word`` within its typo budget (``None``: no match).

    ``prefix``: ``query_word`` may also be the beginning of ``word`` (the last word while typing); a typo in a
    prefix counts against a prefix of ``word`` of the same length.
    """
    if query_word == word:
        return 0
    if prefix and word.startswith(query_word):
        return 0
    budget = typo_budget(query_word)
    if budget == 0:
        return None
    distance = OSA.distance(query_word, word, score_cutoff=budget)
    if distance <= budget:
        return distance
    if prefix and len(word) > len(query_word):
        distance = OSA.distance(query_word, word[: len(query_word)], score_cutoff=budget)
        if distance <= budget:
            return distance
    return None


@lru_cache(maxsize=65536)
def text_words(text: str) -> tuple[tuple[int, int, str], ...]:
    """The words of an NFC display ``text`` with code-point offsets and their normalised form:
    ``"Chợ Bắc Hà"`` -> ``[(0, 3, "cho"), (4, 7, "bac"), (8, 10, "ha")]``. CJK runs come as one word each."""
    nfc = unicodedata.normalize("NFC", text)
    out = []
    for match in _TEXT_WORD.finditer(nfc):
        normal = normalise(match.group())
        if normal:
            out.append((match.start(), match.end(), normal.replace(" ", "")))
    return tuple(out)
