"""Opening hours: OpenStreetMap syntax evaluated in Vietnam's time, public holidays from the shipped file (a place
closed on Tết is closed on Tết), set by editors through the destination edit, read at /hours; bad syntax is 422."""

import csv
from datetime import date, datetime

import httpx
import pytest
from litestar import Litestar

from src.guide.hours import HOLIDAYS_FILE, hours_state, validate
from src.kernel.errors import InvalidParameter
from src.kernel.localtime import VIETNAM
from tests.guide.content_support import editor_headers

CLOSED_ON_HOLIDAYS = "Mo-Su 07:00-17:00; PH off"
SLUG = "ta-phin"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


def lunar_new_year_days() -> list[date]:
    with HOLIDAYS_FILE.open(encoding="utf-8") as handle:
        return [date.fromisoformat(r["date"]) for r in csv.DictReader(handle) if "Lunar New Year" in r["name_en"]]


def test_closed_on_tet_open_after_it() -> None:
    tet = local("2026-02-17T10:00")
    state = hours_state(CLOSED_ON_HOLIDAYS, tet)
    assert (state.open_now, state.opens_at) == (False, local("2026-02-21T07:00"))  # Feb 16-20 are days off
    after = hours_state(CLOSED_ON_HOLIDAYS, local("2026-02-23T10:00"))
    assert (after.open_now, after.closes_at) == (True, local("2026-02-23T17:00"))
    # the same instant told in UTC: 03:00Z is 10:00 in Lào Cai
    assert hours_state(CLOSED_ON_HOLIDAYS, datetime.fromisoformat("2026-02-17T03:00:00+00:00")).open_now is False
    for day in lunar_new_year_days():
        assert hours_state(CLOSED_ON_HOLIDAYS, local(f"{day.isoformat()}T10:00")).open_now is False, day
    # holiday hours of their own
    short = hours_state("Mo-Su 07:00-17:00; PH 08:00-11:00", local("2026-02-17T10:00"))
    assert (short.open_now, short.closes_at) == (True, local("2026-02-17T11:00"))


@pytest.mark.parametrize("bad", ["Mo-Fr,PH 10:00-12:00", "SH off", "Mo-Fr 25:00-26:00", "open sometimes", ""])
def test_bad_expressions_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameter):
        validate(bad)


async def test_editors_set_hours_and_the_app_reads_the_state(app: Litestar, client: httpx.AsyncClient) -> None:
    editor = await editor_headers(app, client)
    current = await client.get(f"/v1/editor/destinations/{SLUG}", headers=editor)
    bad = await client.patch(f"/v1/editor/destinations/{SLUG}", json={"opening_hours": "whenever"},
                             headers={**editor, "If-Match": current.headers["etag"]})  # fmt: skip
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/v1/editor/destinations/{SLUG}", headers=editor)).headers["etag"] == current.headers[
        "etag"
    ]  # nothing was written
    edited = await client.patch(f"/v1/editor/destinations/{SLUG}", json={"opening_hours": CLOSED_ON_HOLIDAYS},
                                headers={**editor, "If-Match": current.headers["etag"]})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["opening_hours"] == CLOSED_ON_HOLIDAYS
    try:
        response = await client.get(f"/v1/destinations/{SLUG}/hours", params={"at": "2026-02-17T10:00:00+07:00"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["open_now"], body["opens_at"]) == (False, "2026-02-21T07:00:00+07:00")
        assert body["holidays_known"] == [2025, 2026, 2027]
        now = await client.get(f"/v1/destinations/{SLUG}/hours")
        assert int(now.headers["cache-control"].split("max-age=")[1]) <= 60
        for at in ("2026-02-17T10:00:00", "9999-12-31T23:00:00-12:00", "0001-01-01T00:00:00+14:00"):
            bad_at = await client.get(f"/v1/destinations/{SLUG}/hours", params={"at": at})
            assert bad_at.status_code == 422, (at, bad_at.text)
    finally:
        cleared = await client.patch(f"/v1/editor/destinations/{SLUG}", json={"opening_hours": None},
                                     headers={**editor, "If-Match": edited.headers["etag"]})  # fmt: skip
        assert cleared.status_code == 200, cleared.text
    assert (await client.get(f"/v1/destinations/{SLUG}/hours")).json()["open_now"] is None
