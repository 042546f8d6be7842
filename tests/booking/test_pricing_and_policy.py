"""Pure rules of booking: the price of a stay (rounding, included and added lines) and cancellation terms."""

from datetime import UTC, date, datetime, time

import msgspec
import pytest

from src.booking.policy import free_cancellation_until, parse_policy, refund_percent_at, terms
from src.booking.pricing import parse_tax_fees, quote
from src.booking.stays import parse_local_date, validate_stay
from src.kernel.errors import InvalidParameter
from src.kernel.money import format_money, money

NIGHTS = [(date(2026, 12, 24), 925_000), (date(2026, 12, 25), 1_100_000)]


def lines(*specs: dict[str, object]) -> list[object]:
    return parse_tax_fees([{"name": {"en": str(spec["code"])}, **spec} for spec in specs])  # type: ignore[list-item]


def test_subtotal_is_every_night_times_rooms() -> None:
    q = quote(NIGHTS, rooms=2, adults=4, children=0, lines=[], currency="VND")
    assert [n.amount for n in q.nights] == [1_850_000, 2_200_000]
    assert q.subtotal == q.total == 4_050_000


def test_included_percent_is_shown_not_added_and_added_percent_is_added() -> None:
    q = quote(
        NIGHTS,
        rooms=1,
        adults=2,
        children=0,
        lines=lines(
            {"code": "vat", "kind": "percent", "rate_bp": 800, "included": True},
            {"code": "service", "kind": "percent", "rate_bp": 500},
        ),
        currency="VND",
    )
    vat, service = q.charges
    assert vat.amount == round(2_025_000 * 800 / 10_800)  # 150,000: the VAT inside a VAT-inclusive rate
    assert service.amount == 101_250
    assert q.total == 2_025_000 + 101_250


def test_fixed_fees_per_unit() -> None:
    q = quote(
        NIGHTS,
        rooms=2,
        adults=3,
        children=1,
        lines=lines(
            {"code": "stay", "kind": "fixed", "fixed_amount": 50_000, "per": "stay"},
            {"code": "night", "kind": "fixed", "fixed_amount": 1_000, "per": "night"},
            {"code": "room_night", "kind": "fixed", "fixed_amount": 100, "per": "room_night"},
            {"code": "guest_night", "kind": "fixed", "fixed_amount": 10, "per": "guest_night"},
        ),
        currency="VND",
    )
    assert [c.amount for c in q.charges] == [50_000, 2_000, 400, 80]
    assert q.total == q.subtotal + 52_480


def test_rounding_is_half_up_per_line_and_lines_add_up_to_the_total() -> None:
    q = quote(
        [(date(2026, 12, 24), 5)],
        rooms=1,
        adults=1,
        children=0,
        lines=lines(
            {"code": "a", "kind": "percent", "rate_bp": 1000},  # 0.5 -> 1
            {"code": "b", "kind": "percent", "rate_bp": 900},  # 0.45 -> 0
        ),
        currency="VND",
    )
    assert [c.amount for c in q.charges] == [1, 0]
    assert q.total == 6
    snapshot = q.snapshot()
    assert snapshot["total"] == snapshot["subtotal"] + sum(
        line["amount"] for line in snapshot["taxes_and_fees"] if not line["included"]
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"code": "x", "name": {"en": "X"}, "kind": "percent"},
        {"code": "x", "name": {"en": "X"}, "kind": "percent", "rate_bp": 800, "per": "stay"},
        {"code": "x", "name": {"en": "X"}, "kind": "fixed", "fixed_amount": 10},
        {"code": "x", "name": {"en": "X"}, "kind": "percent", "rate_bp": 10_001},
        {"code": "x", "name": {}, "kind": "percent", "rate_bp": 800},
        {"code": "X Y", "name": {"en": "X"}, "kind": "percent", "rate_bp": 800},
        {"code": "x", "name": {"en": "X"}, "kind": "percent", "rate_bp": 800, "surprise": 1},
    ],
)
def test_bad_tax_lines_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        parse_tax_fees([bad])


def test_duplicate_tax_codes_are_refused() -> None:
    line = {"code": "vat", "name": {"en": "VAT"}, "kind": "percent", "rate_bp": 800}
    with pytest.raises(ValueError, match="unique"):
        parse_tax_fees([line, line])


POLICY = parse_policy({"rules": [{"days_before": 1, "refund_percent": 50}, {"days_before": 7, "refund_percent": 100}]})


def test_terms_are_deadlines_at_check_in_time_in_vietnam() -> None:
    got = terms(POLICY, date(2026, 12, 24), time(14, 0))
    assert got == [
        {"until": datetime(2026, 12, 17, 7, 0, tzinfo=UTC), "refund_percent": 100},  # 14:00 +07:00
        {"until": datetime(2026, 12, 23, 7, 0, tzinfo=UTC), "refund_percent": 50},
    ]
    assert free_cancellation_until(POLICY, date(2026, 12, 24), time(14, 0)) == datetime(2026, 12, 17, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "percent"),
    [
        (datetime(2026, 12, 17, 7, 0, tzinfo=UTC), 100),
        (datetime(2026, 12, 17, 7, 0, 1, tzinfo=UTC), 50),
        (datetime(2026, 12, 23, 7, 0, tzinfo=UTC), 50),
        (datetime(2026, 12, 23, 7, 1, tzinfo=UTC), 0),
    ],
)
def test_refund_percent_steps_down_over_time(at: datetime, percent: int) -> None:
    assert refund_percent_at(POLICY, date(2026, 12, 24), time(14, 0), at) == percent


def test_a_later_more_generous_rule_wins_over_an_earlier_meaner_one() -> None:
    policy = parse_policy(
        {"rules": [{"days_before": 10, "refund_percent": 20}, {"days_before": 2, "refund_percent": 80}]}
    )
    got = terms(policy, date(2026, 12, 24), time(14, 0))
    assert [entry["refund_percent"] for entry in got] == [80]  # cancelling 10 days ahead also meets the 2-day rule


def test_policy_without_rules_refunds_nothing() -> None:
    policy = parse_policy({})
    assert terms(policy, date(2026, 12, 24), time(14)) == []
    assert free_cancellation_until(policy, date(2026, 12, 24), time(14)) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"rules": [{"days_before": 1, "refund_percent": 101}]},
        {"rules": [{"days_before": -1, "refund_percent": 10}]},
        {"rules": [{"days_before": 1, "refund_percent": 10}, {"days_before": 1, "refund_percent": 20}]},
        {"rules": [], "unknown": True},
    ],
)
def test_bad_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        parse_policy(bad)


@pytest.mark.parametrize(
    "value", ["2026-12-24T00:00:00Z", "2026-12-24T10:00:00+07:00", "20261224", "2026-W52-4", "24/12/2026", "2026-02-30"]
)
def test_only_calendar_dates_are_stay_dates(value: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_local_date(value, "check_in")


def test_check_in_today_is_judged_in_vietnam() -> None:
    evening_utc = datetime(2026, 12, 23, 17, 30, tzinfo=UTC)  # 00:30 on the 24th in Lào Cai
    assert validate_stay(date(2026, 12, 24), date(2026, 12, 25), now=evening_utc).nights == 1
    with pytest.raises(InvalidParameter, match="past"):
        validate_stay(date(2026, 12, 23), date(2026, 12, 25), now=evening_utc)


@pytest.mark.parametrize(("nights", "ok"), [(0, False), (1, True), (30, True), (31, False), (-1, False)])
def test_stays_are_one_to_thirty_nights(nights: int, ok: bool) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    check_in = date(2026, 12, 10)
    check_out = date.fromordinal(check_in.toordinal() + nights)
    if ok:
        assert validate_stay(check_in, check_out, now=now).nights == nights
    else:
        with pytest.raises(InvalidParameter):
            validate_stay(check_in, check_out, now=now)


@pytest.mark.parametrize(
    ("locale", "display"),
    [("vi", "1.850.000\xa0₫"), ("en", "₫1,850,000"), ("fr", "1\u202f850\u202f000\xa0₫"), ("zh-Hans", "₫1,850,000")],
)
def test_money_display_follows_the_locale(locale: str, display: str) -> None:
    assert format_money(1_850_000, "VND", locale) == display
    assert money(1_850_000, "VND", locale).amount == 1_850_000


def test_money_in_a_currency_with_minor_units() -> None:
    assert format_money(1850, "USD", "en") == "$18.50"
