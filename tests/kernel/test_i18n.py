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


def test_fallback_chain() -> None:
    assert fallback_chain("ko") == ("ko", "en", "vi")
    assert fallback_chain("en") == ("en", "vi")
    assert fallback_chain("vi") == ("vi", "en")
    assert fallback_chain("zh-Hans") == ("zh-Hans", "zh", "en", "vi")
    assert pick({"vi": "Cát Cát"}, "ko") == ("Cát Cát", "vi")
    assert pick({"vi": "Sa Pa", "en": "Sapa"}, "fr") == ("Sapa", "en")
    assert pick({}, "fr") is None
