"""Events: weekly markets from RFC 5545 rules, festivals on Vietnamese lunar dates (UTC+7) landing on the right
Gregorian days 2025-2027 (Tết as in the shipped holidays), leap months, the public range API and the samples."""

import csv
from datetime import date, timedelta

import httpx
import pytest
from litestar import Litestar

from src.guide.calendar import lunar_dates, occurrences, tet_dates
from src.guide.hours import HOLIDAYS_FILE
from src.guide.samples import load_guide_samples
from src.kernel.db import unit_of_work
from tests.guide.content_support import editor_headers, unique_slug


def shipped_lunar_new_year() -> dict[int, date]:
    with HOLIDAYS_FILE.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["name_en"] == "Lunar New Year"]
    return {date.fromisoformat(r["date"]).year: date.fromisoformat(r["date"]) for r in rows}


def test_tet_matches_the_shipped_holidays() -> None:
    shipped = shipped_lunar_new_year()
    assert sorted(shipped) == [2025, 2026, 2027]
    assert tet_dates(shipped) == shipped


def test_the_vietnamese_calendar_is_reckoned_on_utc_plus_7() -> None:
    # Tết 1985: 21 January in Vietnam (UTC+7), 20 February in China (UTC+8): the new moon fell on either side of
    # midnight. The library converts on UTC+7 by default.
    assert lunar_dates(1, 1, False, date(1985, 1, 1), date(1985, 12, 31)) == [date(1985, 1, 21)]
    from lunar_vn import LunarDate, lunar_to_solar

    assert lunar_to_solar(LunarDate(1, 1, 1985), time_zone=8.0) == date(1985, 2, 20)


def test_leap_months_exist_only_in_their_years() -> None:
    # 2025 (Ất Tỵ) has a leap sixth month; 2026 has no leap month at all.
    leap = lunar_dates(6, 1, True, date(2025, 1, 1), date(2026, 12, 31))
    ordinary = lunar_dates(6, 1, False, date(2025, 1, 1), date(2025, 12, 31))
    assert len(leap) == 1
    assert leap[0] > ordinary[0]
    assert (leap[0] - ordinary[0]).days in (29, 30)
    assert lunar_dates(3, 1, True, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_a_sunday_market_falls_on_sundays() -> None:
    rule = {"type": "rrule", "rule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2025-01-05", "start_time": "06:00",
            "duration_minutes": 360}  # fmt: skip
    spans = occurrences(rule, date(2026, 12, 1), date(2026, 12, 31))
    assert [s.day.isoformat() for s in spans] == ["2026-12-06", "2026-12-13", "2026-12-20", "2026-12-27"]
    assert all(s.day.weekday() == 6 for s in spans)
    assert spans[0].start is not None
    assert spans[0].start.isoformat() == "2026-12-06T06:00:00+07:00"
    assert spans[0].end is not None
    assert spans[0].end - spans[0].start == timedelta(hours=6)


async def test_events_api_with_samples_and_an_editor_festival(app: Litestar, client: httpx.AsyncClient) -> None:
    async with unit_of_work(app.state.engine) as session:
        await load_guide_samples(session)
    async with unit_of_work(app.state.engine) as session:
        assert await load_guide_samples(session) == 0  # idempotent
    response = await client.get("/v1/events", params={"from": "2027-01-01", "to": "2027-02-28", "commune": "02839",
                                                       "lang": "en"})  # fmt: skip
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    markets = [i for i in items if i["event"] == "bac-ha-sunday-market"]
    assert markets
    assert all(date.fromisoformat(i["date"]).weekday() == 6 for i in markets)
    assert markets[0]["title_locale"] == "en"
    tet = [i for i in items if i["event"] == "tet-nguyen-dan"]  # province-wide: in every commune's calendar
    assert [(i["date"], i["end_date"]) for i in tet] == [("2027-02-06", "2027-02-08")]
    assert "can-cau-saturday-market" not in {i["event"] for i in items}  # another commune

    editor = await editor_headers(app, client)
    slug = unique_slug("gau-tao")
    # A festival on lunar 1/5 (a date this test states, not a shipped fact), at Sa Pa ward.
    created = await client.post("/v1/editor/events", headers=editor, json={
        "slug": slug, "kind": "festival", "commune": "03006",
        "recurrence": {"type": "lunar", "month": 1, "day": 5, "leap": False, "days": 2},
        "translations": {"vi": {"title": "Lễ hội thử"}}, "source": "test", "licence": "test",
    })  # fmt: skip
    assert created.status_code == 201, created.text
    found = await client.get("/v1/events", params={"from": "2025-02-01", "to": "2026-02-28", "commune": "03006"})
    days = [i["date"] for i in found.json()["items"] if i["event"] == slug]
    assert days == ["2025-02-02", "2026-02-21"]  # Tết + 4 days in each year
    for params in (
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2026-01-01", "to": "2027-06-01"},
        {"from": "2026-02-30", "to": "2026-03-01"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01"},
    ):
        bad = await client.get("/v1/events", params=params)
        assert bad.status_code in (400, 422), (params, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "recurrence",
    [
        {"type": "rrule", "rule": "FREQ=SECONDLY", "start_date": "2026-01-01"},
        {"type": "rrule", "rule": "FREQ=WEEKLY;BYDAY=XX", "start_date": "2026-01-01"},
        {"type": "rrule", "rule": "FREQ=WEEKLY", "start_date": "2026-13-01"},
        {"type": "lunar", "month": 13, "day": 1},
        {"type": "lunar", "month": 1, "day": 1, "leap": "yes"},
        {"type": "solar"},
        {"type": "rrule", "rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "start_date": "2026-01-01"},  # never
        {"type": "rrule", "rule": "FREQ=WEEKLY", "start_date": "0001-01-01"},
    ],
)
async def test_bad_recurrences_are_refused(
    app: Litestar, client: httpx.AsyncClient, recurrence: dict[str, object]
) -> None:
    editor = await editor_headers(app, client)
    slug = unique_slug("bad-event")
    response = await client.post("/v1/editor/events", headers=editor, json={
        "slug": slug, "kind": "market", "recurrence": recurrence, "translations": {"vi": {"title": "x"}},
        "source": "s", "licence": "l",
    })  # fmt: skip
    assert response.status_code == 422, response.text
    assert (await client.get(f"/v1/editor/events/{slug}", headers=editor)).status_code == 404
