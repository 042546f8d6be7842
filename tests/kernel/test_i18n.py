"""Locale negotiation (API.md "Locale") and fallback chains."""

import pytest

from src.kernel.i18n import fallback_chain, map_tag, negotiate_accept_language, parse_accept_language, pick


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-Hant", "zh-Hans"),
        ("zh-TW", "zh-Hans"),
        ("zh_Hans", "zh-Hans"),
        ("fr-CA", "fr"),
        ("ko-KR", "ko"),
        ("xx", None),
        ("de", None),
        ("*", None),
        ("", None),
        ("-", None),
        # Extensions (RFC 5646 §2.2.6) and private use (§2.2.7) do not change the language.
        ("en-US-u-ca-gregory", "en"),
        ("en-u-nu-latn", "en"),
        ("vi-VN-u-ca-buddhist-nu-latn", "vi"),
        ("fr-FR-x-paris", "fr"),
        ("ko-Kore-KR-t-en-x-test", "ko"),
        ("zh-Hant-TW-x-private", "zh-Hans"),
        ("zh-Hans-CN-u-co-pinyin", "zh-Hans"),
        ("zh-yue-HK", "zh-Hans"),  # extlang: still a Chinese reader
        ("de-CH-1901", None),  # a variant, well formed, not served
        ("en-GB-oxendict", "en"),
        ("x-private", None),  # private use only names no language
        ("i-klingon", None),
        ("en--US", None),
        ("en-US-", None),
        ("en-a", None),  # a singleton needs a subtag
        ("en-x", None),
        ("toolonglanguage", None),
        ("e1", None),
    ],
)
def test_map_tag(tag: str, expected: str | None) -> None:
    assert map_tag(tag) == expected


def test_accept_language_weights_are_honoured() -> None:
    assert parse_accept_language("en;q=0.5, ko, fr;q=0.8") == ["ko", "fr", "en"]
    assert parse_accept_language("de;q=0, en;q=abc, vi") == ["vi"]
    assert negotiate_accept_language("de-DE, zh-TW;q=0.9, en;q=0.8") == "zh-Hans"
    assert negotiate_accept_language("de, ja") == "vi"
    assert negotiate_accept_language(None) == "vi"
    assert negotiate_accept_language("*") == "vi"
    assert negotiate_accept_language("ko;q=2") == "vi"  # a weight above 1 is invalid (RFC 9110 §12.4.2)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US-u-ca-gregory, fr;q=0.5", "en"),
        ("zh-Hant-TW-x-private", "zh-Hans"),
        ("zh-Hant-TW", "zh-Hans"),
        ("de-DE-u-co-phonebk, ko-KR-x-seoul;q=0.9, en;q=0.1", "ko"),
        ("x-private, fr;q=0.5", "fr"),
        ("en-US-u-ca-gregory;q=0, fr;q=0.5", "fr"),
        ("*;q=0.5, fr;q=0.1", "vi"),  # the wildcard outranks fr: any language, so the default
        ("fr, *;q=0.5", "fr"),
    ],
)
def test_accept_language_with_extensions_and_private_use(header: str, expected: str) -> None:
    assert negotiate_accept_language(header) == expected


def test_fallback_chain() -> None:
    assert fallback_chain("ko") == ("ko", "en", "vi")
    assert fallback_chain("en") == ("en", "vi")
    assert fallback_chain("vi") == ("vi", "en")
    assert fallback_chain("zh-Hans") == ("zh-Hans", "zh", "en", "vi")
    assert pick({"vi": "Cát Cát"}, "ko") == ("Cát Cát", "vi")
    assert pick({"vi": "Sa Pa", "en": "Sapa"}, "fr") == ("Sapa", "en")
    assert pick({}, "fr") is None
