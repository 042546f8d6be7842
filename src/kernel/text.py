"""Free text as clients send it (names, addresses, descriptions): normalised to NFC and refused when it carries
characters that have no business in a name and can hide or spoof what is shown.

- C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F), except line feed and tab in multi-line text: they
  break logs, terminals (ANSI escapes), CSV files and some clients' rendering.
- Unicode bidirectional formatting characters (embeddings, overrides and isolates: U+202A-U+202E, U+2066-U+2069;
  Unicode TR#9): they reorder what a reader sees, the "Trojan Source" trick (CVE-2021-42574), in the owner portal,
  CSV exports and confirmations.
"""

import re
import unicodedata

from src.kernel.errors import InvalidParameter

_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(
    value: str, field: str, *, multiline: bool = False, allow_empty: bool = False, source: str = "body"
) -> str:
    """``value`` in NFC without surrounding white space (``\\r\\n`` becomes ``\\n`` in multi-line text);
    ``InvalidParameter`` (422) naming ``field`` when it is empty (unless ``allow_empty``) or holds a control or
    bidirectional formatting character (see the module docstring)."""
    cleaned = unicodedata.normalize("NFC", value).strip()
    if multiline:
        cleaned = cleaned.replace("\r\n", "\n")
    pattern = _MULTI_LINE if multiline else _SINGLE_LINE
    if (not cleaned and not allow_empty) or pattern.search(cleaned):
        message = "must be non-empty text without control or bidirectional formatting characters"
        if allow_empty:
            message = "must be text without control or bidirectional formatting characters"
        raise InvalidParameter.of_field(field, message, source)
    return cleaned
