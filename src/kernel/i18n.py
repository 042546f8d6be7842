"""Locales: negotiation (Babel), gettext catalogs for API messages, fallback chains for translated content.

Supported locales, in BCP 47 form: ``vi`` (the default), ``en``, ``zh-Hans``, ``fr``, ``ko``. Any Chinese tag
(``zh``, ``zh-CN``, ``zh-Hant``, ``zh-TW``...) maps to ``zh-Hans``, the only Chinese the catalogue is edited in, and
any regional variant of a supported language maps to that language (``en-US`` -> ``en``). See API.md, "Locale".

Catalogs live in ``locales/<lang>/LC_MESSAGES/messages.po`` and are compiled in memory when first used, so a fresh
clone needs no build step and a stale ``.mo`` file can never be served.
"""

import io
import re
from functools import cache

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from src.kernel.config import PROJECT_ROOT
from src.kernel.request_input import parse_weighted_list

DEFAULT_LOCALE = "vi"
SUPPORTED_LOCALES: tuple[str, ...] = ("vi", "en", "zh-Hans", "fr", "ko")
LOCALES_DIR = PROJECT_ROOT / "locales"

_BY_LANGUAGE = {"vi": "vi", "en": "en", "zh": "zh-Hans", "fr": "fr", "ko": "ko"}
#: Content stored under a script-less tag that a reader of the requested locale can still read.
_EXTRA_FALLBACK = {"zh-Hans": ("zh",)}


def N_(message: str) -> str:  # noqa: N802  (gettext's conventional marker name)
    """Mark ``message`` for extraction (pybabel) without translating it now; it is translated at render time."""
    return message


#: A well-formed BCP 47 language tag (RFC 5646 §2.1 ``langtag``): language (with up to three extlangs), script,
#: region, variants, extensions (a singleton other than ``x`` and its subtags) and private use (``x-...``). Only the
#: primary language subtag decides the locale here; the rest must merely be well formed.
_LANGTAG = re.compile(
    r"(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*"  # extensions, e.g. -u-ca-gregory
    r"(?:-x(?:-[a-z0-9]{1,8})+)?",  # private use, e.g. -x-private
    re.IGNORECASE,
)


def primary_language(tag: str) -> str | None:
    """The primary language subtag of a well-formed BCP 47 tag, lower-cased; ``None`` when the tag is malformed.

    Extension and private-use subtags do not change the language (RFC 5646 §2.2.6, §2.2.7):
    ``"en-US-u-ca-gregory"`` -> ``"en"``, ``"zh-Hant-TW-x-private"`` -> ``"zh"``. A private-use-only tag (``x-...``)
    or a grandfathered irregular one (``i-klingon``) names no language here. ``_`` is accepted for ``-``.
    """
    match = _LANGTAG.fullmatch(tag.strip().replace("_", "-"))
    if match is None:
        return None
    return match["language"].split("-", 1)[0].lower()


def map_tag(tag: str) -> str | None:
    """Map one BCP 47 language tag to a supported locale, or ``None`` when nothing fits.

    ``"zh-TW"`` -> ``"zh-Hans"``, ``"en-US-u-ca-gregory"`` -> ``"en"``, ``"xx"`` -> ``None``. Malformed tags and
    ``*`` give ``None``.
    """
    language = primary_language(tag)
    return None if language is None else _BY_LANGUAGE.get(language)


def parse_accept_language(header: str) -> list[str]:
    """The language ranges of an ``Accept-Language`` header, best first (RFC 9110 §12.5.4)."""
    return parse_weighted_list(header)


def negotiate_accept_language(header: str | None) -> str:
    """The supported locale that best matches an ``Accept-Language`` header; ``vi`` when none does.

    The wildcard ``*`` matches any language (RFC 4647 §3.3.1), so at its rank it picks the default, ``vi``:
    ``"*;q=0.5, fr;q=0.1"`` -> ``vi``.
    """
    for tag in parse_accept_language(header or ""):
        if tag.strip() == "*":
            return DEFAULT_LOCALE
        if (locale := map_tag(tag)) is not None:
            return locale
    return DEFAULT_LOCALE


@cache
def fallback_chain(locale: str) -> tuple[str, ...]:
    """The locales to try, in order, for a translated field requested in ``locale``: requested -> ``en`` -> ``vi``.

    ``zh-Hans`` also accepts ``zh`` (Chinese of unstated script) right after itself.
    """
    chain: list[str] = []
    for candidate in (locale, *_EXTRA_FALLBACK.get(locale, ()), "en", DEFAULT_LOCALE):
        if candidate not in chain:
            chain.append(candidate)
    return tuple(chain)


def pick(values: dict[str, str], locale: str) -> tuple[str, str] | None:
    """The first of ``values`` (locale -> text) along ``locale``'s fallback chain, as ``(text, its locale)``."""
    for candidate in fallback_chain(locale):
        if candidate in values:
            return values[candidate], candidate
    return None


def catalog_dir_name(locale: str) -> str:
    """The gettext folder name of a locale: ``zh-Hans`` -> ``zh_Hans``."""
    return str(Locale.parse(locale, sep="-"))


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled gettext catalog of ``locale`` (``NullTranslations`` when none is shipped)."""
    path = LOCALES_DIR / catalog_dir_name(locale) / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=catalog_dir_name(locale))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str, locale: str) -> str:
    """Translate an API message into ``locale`` (the message itself when the catalog lacks it)."""
    return translations(locale).gettext(message)


def negotiate(lang: str | None, accept_language: str | None) -> str:
    """The response locale: ``?lang=`` when it maps to a served locale, else ``Accept-Language``, else ``vi``.

    An unmappable ``?lang=`` is ignored here; the ``locale`` dependency turns it into a 422 for the handler.
    """
    if lang and (mapped := map_tag(lang)) is not None:
        return mapped
    return negotiate_accept_language(accept_language)
