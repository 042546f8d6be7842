"""Payments' email (``src/payments/messages.py``): every kind renders in every locale from the translated catalogs,
with money and dates formatted by Babel for the recipient."""

from dataclasses import replace
from datetime import date

import pytest

from src.kernel.i18n import SUPPORTED_LOCALES
from src.payments.messages import KINDS, PARK_REASONS, Kind, MessageContext, render

STAY = MessageContext(
    code="LC7K2Q9X",
    property_name="Homestay Tả Van",
    guest_name="Nguyễn Văn An",
    check_in=date(2026, 12, 24),
    check_out=date(2026, 12, 27),
    nights=3,
    amount=1_850_000,
    currency="VND",
    refund_amount=925_000,
    reason="underpaid",
    memo="LC7K2Q9X chuyen khoan",
    method="vietqr",
)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_locale(kind: Kind, locale: str) -> None:
    rendered = render(kind, STAY, locale)
    for part in (rendered.subject, rendered.body_text, rendered.body_html or ""):
        assert "%(" not in part
    assert STAY.code in rendered.subject + rendered.body_text
    if locale != "en":  # translated, not the English source
        assert render(kind, STAY, locale).body_text != render(kind, STAY, "en").body_text
    assert rendered.body_html is not None
    assert f'lang="{locale}"' in rendered.body_html


@pytest.mark.parametrize(
    ("locale", "money", "day", "words"),
    [
        ("vi", "1.850.000\xa0₫", "Thứ Năm, 24 tháng 12, 2026", "đã được xác nhận"),
        ("en", "₫1,850,000", "Thursday, December 24, 2026", "is confirmed"),
        ("zh-Hans", "₫1,850,000", "2026年12月24日星期四", "已确认"),
        ("fr", "1\u202f850\u202f000\xa0₫", "jeudi 24 décembre 2026", "est confirmée"),
        ("ko", "₫1,850,000", "2026년 12월 24일 목요일", "확정되었습니다"),
    ],
)
def test_money_and_dates_are_formatted_by_babel_for_the_recipient(
    locale: str, money: str, day: str, words: str
) -> None:
    rendered = render("reservation_confirmed", STAY, locale)
    assert money in rendered.body_text
    assert day in rendered.body_text
    assert words in rendered.subject


def test_cancellation_says_whether_money_comes_back() -> None:
    assert "925.000\xa0₫" in render("reservation_cancelled", STAY, "vi").body_text
    none_back = render("reservation_cancelled", replace(STAY, refund_amount=None), "en").body_text
    assert "No refund is due" in none_back


def test_the_parked_transfer_names_its_reason_in_the_owners_language() -> None:
    for reason in PARK_REASONS:
        text = render("transfer_parked", replace(STAY, reason=reason), "en").body_text
        assert PARK_REASONS[reason] in text
    assert "số tiền ít hơn số tiền phải trả" in render("transfer_parked", STAY, "vi").body_text
    assert "LC7K2Q9X chuyen khoan" in render("transfer_parked", STAY, "fr").body_text


def test_html_escapes_what_guests_typed() -> None:
    rendered = render("reservation_confirmed", replace(STAY, guest_name="<b>Ann</b>"), "en")
    assert "<b>Ann</b>" not in (rendered.body_html or "")
    assert "&lt;b&gt;Ann&lt;/b&gt;" in (rendered.body_html or "")
