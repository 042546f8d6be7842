"""Name folding and slugs for Vietnamese place names.

Folding lower-cases, strips tone marks and diacritics (Unicode NFKD, combining marks removed) and maps ``đ`` to
``d``, so "Cát Cát" and "Cat Cat" meet as ``cat cat``. Slugs are the folded name joined by hyphens (``cat-cat``).
"""

import re
import unicodedata

_NON_SLUG = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Return ``text`` lower-cased without diacritics and with white space collapsed.

    ``"Đèo Ô Quy Hồ"`` -> ``"deo o quy ho"``.
    """
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def slugify(*parts: str) -> str:
    """Join the folded ``parts`` with hyphens, keeping ASCII letters and digits only ("Cát Cát" -> "cat-cat")."""
    return "-".join(p for p in (_NON_SLUG.sub("-", fold(part)).strip("-") for part in parts) if p)
