"""Events of the guide: market days and festivals, and their occurrences as local dates of Vietnam.

Two kinds of recurrence (``GuideEvent.recurrence``):

- ``{"type": "rrule", "rule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2026-01-04", "start_time": "06:00",
  "duration_minutes": 360}``: an RFC 5545 §3.3.10 recurrence rule (``FREQ`` DAILY, WEEKLY, MONTHLY or YEARLY),
  expanded with ``python-dateutil``'s ``rrulestr`` from the local start date and time (Asia/Ho_Chi_Minh). Without
  ``start_time`` the occurrences are all-day.
- ``{"type": "lunar", "month": 1, "day": 1, "leap": false, "days": 3}``: a date of the Vietnamese lunar calendar,
  converted to the Gregorian date of each year with ``lunar-vn`` (Hồ Ngọc Đức's algorithm on UTC+7, the meridian
  the Vietnamese calendar is reckoned on since 1968; the Chinese calendar uses UTC+8, so the two can differ: Tết
  1985 fell on 21 January in Vietnam and on 20 February in China). A leap month that a year does not have gives no
  occurrence that year. Occurrences are all-day, ``days`` long.

Tết (lunar 1/1) is checked against the shipped public holidays' "Lunar New Year" rows (tests/guide/test_events.py).
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import msgspec
from dateutil.rrule import rrulestr
from litestar.stores.registry import StoreRegistry
from lunar_vn import LunarDate, lunar_to_solar, solar_to_lunar
from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import repository
from src.guide.models import GuideEvent
from src.guide.service import COMMUNE_CODE, SLUG, if_match_allows
from src.kernel.caching import purge_after_commit
from src.kernel.db import Reader, connection_reader, utcnow
from src.kernel.errors import InvalidParameter, NotFound, PreconditionFailed, PreconditionRequired
from src.kernel.i18n import SUPPORTED_LOCALES, pick
from src.kernel.localtime import VIETNAM
from src.kernel.text import clean_text

#: The longest range ``GET /v1/events`` expands at once (days).
MAX_RANGE_DAYS = 400
#: At most this many occurrences are returned for one range.
MAX_OCCURRENCES = 2_000
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: The years the calendar serves: those ``lunar-vn`` converts (1900-2100).
MIN_YEAR, MAX_YEAR = 1900, 2100
KINDS = ("market", "festival", "other")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_EVENT = GuideEvent.__table__  # type: ignore[attr-defined]


# -- shapes ------------------------------------------------------------------------------------------------------------


class EventTexts(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    description: str | None = None


class EventInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An event as editors write it. ``recurrence``: see the module docstring. ``source`` and ``licence`` are
    required (where the facts come from). In a PATCH every given field replaces its value."""

    slug: str | msgspec.UnsetType = msgspec.UNSET
    kind: str | msgspec.UnsetType = msgspec.UNSET
    destination: str | msgspec.UnsetType | None = msgspec.UNSET
    commune: str | msgspec.UnsetType | None = msgspec.UNSET
    recurrence: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    translations: dict[str, EventTexts] | msgspec.UnsetType = msgspec.UNSET
    source: str | msgspec.UnsetType = msgspec.UNSET
    licence: str | msgspec.UnsetType = msgspec.UNSET


class Occurrence(msgspec.Struct):
    """One occurrence: local ``date`` (``YYYY-MM-DD``, Asia/Ho_Chi_Minh); ``start``/``end`` RFC 3339 with ``+07:00``
    for timed ones, ``null`` for all-day ones (then ``end_date`` is the last day); the event's texts in the
    negotiated locale with their locales; where it happens."""

    event: str
    kind: str
    date: dt.date
    end_date: dt.date
    all_day: bool
    start: datetime | None
    end: datetime | None
    title: str
    title_locale: str
    description: str | None
    description_locale: str | None
    destination: str | None
    commune: str | None
    is_sample: bool


class OccurrencePage(msgspec.Struct):
    items: list[Occurrence]
    truncated: bool


class EditorEvent(msgspec.Struct):
    slug: str
    kind: str
    destination: str | None
    commune: str | None
    recurrence: dict[str, Any]
    translations: dict[str, dict[str, str]]
    source: str
    licence: str
    is_sample: bool
    version: int
    updated_at: datetime


# -- recurrence --------------------------------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {message}", errors=[{"field": field, "source": "body", "message": message}])


def checked_recurrence(value: Mapping[str, Any]) -> dict[str, Any]:
    """A recurrence as stored (module docstring), validated; ``InvalidParameter`` (422) otherwise."""
    kind = value.get("type")
    if kind == "rrule":
        allowed = {"type", "rule", "start_date", "start_time", "duration_minutes"}
        if set(value) - allowed or "rule" not in value or "start_date" not in value:
            raise _invalid("recurrence", "an rrule recurrence has rule, start_date, start_time, duration_minutes")
        rule = value["rule"]
        if not isinstance(rule, str) or len(rule) > 300 or any(p in rule.upper() for p in ("DTSTART", "\n")):
            raise _invalid("recurrence.rule", "one RFC 5545 RRULE value (no DTSTART), at most 300 characters")
        parts = dict(part.split("=", 1) for part in rule.upper().split(";") if "=" in part)
        if parts.get("FREQ") not in FREQUENCIES:
            raise _invalid("recurrence.rule", f"FREQ must be one of {', '.join(FREQUENCIES)}")
        try:
            start = date.fromisoformat(str(value["start_date"]))
        except ValueError as exc:
            raise _invalid("recurrence.start_date", "a YYYY-MM-DD date") from exc
        if not MIN_YEAR <= start.year <= MAX_YEAR:
            raise _invalid("recurrence.start_date", f"a date from {MIN_YEAR} to {MAX_YEAR}")
        start_time = value.get("start_time")
        if start_time is not None and (not isinstance(start_time, str) or not _TIME.fullmatch(start_time)):
            raise _invalid("recurrence.start_time", "HH:MM, local time of Vietnam")
        duration = value.get("duration_minutes")
        if duration is not None and (
            not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= 1440
        ):
            raise _invalid("recurrence.duration_minutes", "1 to 1,440 minutes")
        checked = {"type": "rrule", "rule": rule.upper(), "start_date": start.isoformat(), "start_time": start_time,
                   "duration_minutes": duration}  # fmt: skip
        try:
            first = next(iter(_rrule(checked)), None)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise _invalid("recurrence.rule", f"not an RFC 5545 recurrence rule: {exc}") from exc
        if first is None or first.year > MAX_YEAR:
            raise _invalid("recurrence.rule", f"the rule never occurs before {MAX_YEAR + 1}")
        return checked
    if kind == "lunar":
        if set(value) - {"type", "month", "day", "leap", "days"} or "month" not in value or "day" not in value:
            raise _invalid("recurrence", "a lunar recurrence has month, day, leap, days")
        month, day, leap, days = value["month"], value["day"], value.get("leap", False), value.get("days", 1)
        for field, number, low, high in (("month", month, 1, 12), ("day", day, 1, 30), ("days", days, 1, 30)):
            if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
                raise _invalid(f"recurrence.{field}", f"{low} to {high}")
        if not isinstance(leap, bool):
            raise _invalid("recurrence.leap", "true or false")
        return {"type": "lunar", "month": month, "day": day, "leap": leap, "days": days}
    raise _invalid("recurrence.type", "rrule or lunar")


def _rrule(recurrence: Mapping[str, Any]) -> Any:
    start = date.fromisoformat(recurrence["start_date"])
    at = time.fromisoformat(recurrence["start_time"]) if recurrence.get("start_time") else time(0, 0)
    return rrulestr(recurrence["rule"], dtstart=datetime.combine(start, at), cache=False)


def lunar_dates(month: int, day: int, leap: bool, first: date, last: date) -> list[date]:
    """The Gregorian dates of lunar ``day``/``month`` (``leap``: of the leap month) falling in ``first..last``."""
    found = []
    for year in range(first.year - 1, last.year + 1):
        try:
            solar = lunar_to_solar(LunarDate(day, month, year, leap))
        except (ValueError, IndexError):
            continue
        back = solar_to_lunar(solar)
        if (back.day, back.month, back.year, bool(back.leap)) != (day, month, year, leap):
            continue  # no such leap month (or day 30) that year: the library answered another date
        if first <= solar <= last:
            found.append(solar)
    return found


@dataclass(frozen=True)
class Span:
    """An occurrence's local start (a date, with a time for timed ones) and end."""

    day: date
    end_day: date
    start: datetime | None
    end: datetime | None


def occurrences(recurrence: Mapping[str, Any], first: date, last: date) -> list[Span]:
    """The occurrences of ``recurrence`` starting on a local date in ``first..last``, in order."""
    if recurrence["type"] == "lunar":
        days = int(recurrence.get("days", 1))
        return [
            Span(day=d, end_day=d + timedelta(days=days - 1), start=None, end=None)
            for d in lunar_dates(recurrence["month"], recurrence["day"], recurrence.get("leap", False), first, last)
        ]
    rule = _rrule(recurrence)
    spans = []
    for moment in rule.between(datetime.combine(first, time(0, 0)), datetime.combine(last, time(23, 59, 59)), inc=True):
        if recurrence.get("start_time"):
            start = moment.replace(tzinfo=VIETNAM)
            end = start + timedelta(minutes=recurrence.get("duration_minutes") or 60)
            spans.append(Span(day=start.date(), end_day=end.date(), start=start, end=end))
        else:
            spans.append(Span(day=moment.date(), end_day=moment.date(), start=None, end=None))
        if len(spans) >= MAX_OCCURRENCES:
            break
    return spans


# -- reading -------------------------------------------------------------------------------------------------------


async def _events(
    reader: Reader, *, commune_codes: Sequence[str] = (), destination_slugs: Sequence[str] = ()
) -> Sequence[Any]:
    query = sa_select(*_EVENT.c).order_by(_EVENT.c.slug)
    # province-wide events (neither a commune nor a destination, e.g. Tết) belong to every area
    conditions = [and_(_EVENT.c.commune_code.is_(None), _EVENT.c.destination_slug.is_(None))]
    if commune_codes:
        conditions.append(_EVENT.c.commune_code.in_(list(commune_codes)))
    if destination_slugs:
        conditions.append(_EVENT.c.destination_slug.in_(list(destination_slugs)))
    if commune_codes or destination_slugs:
        query = query.where(or_(*conditions))
    return (await reader.execute(query)).all()


def _render(row: Any, span: Span, locale: str) -> Occurrence:
    titles = {loc: t["title"] for loc, t in row.translations.items() if t.get("title")}
    descriptions = {loc: t["description"] for loc, t in row.translations.items() if t.get("description")}
    title = pick(titles, locale) or (row.slug, "und")
    description = pick(descriptions, locale)
    return Occurrence(
        event=row.slug,
        kind=row.kind,
        date=span.day,
        end_date=span.end_day,
        all_day=span.start is None,
        start=span.start,
        end=span.end,
        title=title[0],
        title_locale=title[1],
        description=description[0] if description else None,
        description_locale=description[1] if description else None,
        destination=row.destination_slug,
        commune=row.commune_code,
        is_sample=row.is_sample,
    )


async def events_between(
    reader: Reader,
    first: date,
    last: date,
    *,
    locale: str,
    commune_codes: Sequence[str] = (),
    destination_slugs: Sequence[str] = (),
) -> OccurrencePage:
    """Occurrences starting on a local date in ``first..last`` of the events at these communes or destinations and
    the province-wide ones (all events when neither is given), by start then event; at most ``MAX_OCCURRENCES``
    (``truncated`` says)."""
    items: list[Occurrence] = []
    for row in await _events(reader, commune_codes=commune_codes, destination_slugs=destination_slugs):
        items.extend(_render(row, span, locale) for span in occurrences(row.recurrence, first, last))
    items.sort(key=lambda o: (o.date, o.start or datetime.combine(o.date, time(0, 0), VIETNAM), o.event))
    return OccurrencePage(items=items[:MAX_OCCURRENCES], truncated=len(items) > MAX_OCCURRENCES)


class EventService:
    """The public calendar in one negotiated ``locale``."""

    def __init__(self, reader: Reader, locale: str) -> None:
        self.reader = reader
        self.locale = locale

    async def between(self, first: date, last: date, *, commune: str | None, destination: str | None) -> OccurrencePage:
        """``InvalidParameter`` (422) when ``last`` is before ``first`` or the range exceeds ``MAX_RANGE_DAYS``."""
        if last < first:
            raise InvalidParameter.of_field("to", "must not be before from", "query")
        if first.year < MIN_YEAR or last.year > MAX_YEAR:
            raise InvalidParameter.of_field("from", f"dates from {MIN_YEAR} to {MAX_YEAR}", "query")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise InvalidParameter.of_field("to", f"a range of at most {MAX_RANGE_DAYS} days", "query")
        return await events_between(
            self.reader, first, last, locale=self.locale,
            commune_codes=[commune] if commune else [], destination_slugs=[destination] if destination else [],
        )  # fmt: skip


# -- editors -------------------------------------------------------------------------------------------------------


def event_etag(row: Any) -> str:
    return f'"event-{row.id}-v{row.version}"'


class EditorEventService:
    """Editors create and correct events (role ``editor``); ``source`` and ``licence`` are required."""

    def __init__(self, session: AsyncSession, actor: UUID | None, stores: StoreRegistry | None = None) -> None:
        self.session = session
        self.actor = actor
        self.stores = stores

    def _purge(self) -> None:
        if self.stores is not None:
            purge_after_commit(self.session, self.stores)

    async def _connection(self) -> AsyncConnection:
        return await self.session.connection()

    async def _row(self, slug: str) -> Any:
        connection = await self._connection()
        row = (await connection.execute(sa_select(*_EVENT.c).where(_EVENT.c.slug == slug))).first()
        if row is None or not SLUG.fullmatch(slug):
            raise NotFound(f"No event has the slug {slug!r}.")
        return row

    @staticmethod
    def view(row: Any) -> EditorEvent:
        return EditorEvent(
            slug=row.slug, kind=row.kind, destination=row.destination_slug, commune=row.commune_code,
            recurrence=dict(row.recurrence), translations={k: dict(v) for k, v in row.translations.items()},
            source=row.source, licence=row.licence, is_sample=row.is_sample, version=row.version,
            updated_at=row.updated_at,
        )  # fmt: skip

    async def get(self, slug: str) -> tuple[EditorEvent, str]:
        row = await self._row(slug)
        return self.view(row), event_etag(row)

    async def create(self, data: EventInput, *, is_sample: bool = False) -> tuple[EditorEvent, str]:
        for name in ("slug", "kind", "recurrence", "translations", "source", "licence"):
            if getattr(data, name) is msgspec.UNSET:
                raise _invalid(name, "required")
        values = await self._validated({}, data)
        connection = await self._connection()
        if (await connection.execute(sa_select(_EVENT.c.id).where(_EVENT.c.slug == values["slug"]))).first():
            raise _invalid("slug", f"the slug {values['slug']!r} is taken")
        now = utcnow()
        await connection.execute(
            _EVENT.insert().values(
                **values, is_sample=is_sample, version=1, created_by=self.actor, created_at=now, updated_at=now
            )
        )
        self._purge()
        return await self.get(values["slug"])

    async def edit(self, slug: str, if_match: str | None, data: EventInput) -> tuple[EditorEvent, str]:
        if if_match is None:
            raise PreconditionRequired("send If-Match with the ETag of GET /v1/editor/events/{slug}")
        row = await self._row(slug)
        if not if_match_allows(if_match, event_etag(row)):
            raise PreconditionFailed(f"event {slug!r} changed since that version; read it again")
        if data.slug is not msgspec.UNSET and data.slug != slug:
            raise _invalid("slug", "a slug never changes")
        values = await self._validated(row._mapping, data)
        values.pop("slug", None)
        connection = await self._connection()
        result = await connection.execute(
            _EVENT.update()
            .where(_EVENT.c.id == row.id, _EVENT.c.version == row.version)
            .values(**values, version=row.version + 1, updated_at=utcnow())
        )
        if not getattr(result, "rowcount", 0):
            raise PreconditionFailed(f"event {slug!r} was changed by another editor just now; read it again")
        self._purge()
        return await self.get(slug)

    async def _validated(self, current: Mapping[str, Any], data: EventInput) -> dict[str, Any]:
        def given(name: str, fallback: Any) -> Any:
            value = getattr(data, name)
            return fallback if value is msgspec.UNSET else value

        slug = given("slug", current.get("slug"))
        if not isinstance(slug, str) or not SLUG.fullmatch(slug) or len(slug) > 160:
            raise _invalid("slug", "lower-case ASCII words joined by hyphens")
        kind = given("kind", current.get("kind"))
        if kind not in KINDS:
            raise _invalid("kind", f"one of {', '.join(KINDS)}")
        reader = connection_reader(await self._connection())
        destination = given("destination", current.get("destination_slug"))
        if destination is not None and (
            not SLUG.fullmatch(destination) or not await repository.summaries_by_slug(reader, [destination], ())
        ):
            raise _invalid("destination", f"no destination has the slug {destination!r}")
        commune = given("commune", current.get("commune_code"))
        if commune is not None and (
            not COMMUNE_CODE.fullmatch(commune) or not await repository.commune_names(reader, [commune])
        ):
            raise _invalid("commune", f"no 2025 commune has the code {commune!r}")
        recurrence = checked_recurrence(given("recurrence", current.get("recurrence")) or {})
        translations: dict[str, dict[str, str]] = dict(current.get("translations") or {})
        if data.translations is not msgspec.UNSET:
            translations = {}
            for locale, texts in data.translations.items():
                if locale not in SUPPORTED_LOCALES:
                    raise _invalid(f"translations.{locale}", "unknown locale")
                entry = {"title": clean_text(texts.title, f"translations.{locale}.title")}
                if texts.description is not None:
                    entry["description"] = clean_text(texts.description, f"translations.{locale}.description",
                                                      multiline=True)  # fmt: skip
                if len(entry["title"]) > 200 or len(entry.get("description", "")) > 5_000:
                    raise _invalid(f"translations.{locale}", "title ≤ 200, description ≤ 5,000 characters")
                translations[locale] = entry
        if not translations:
            raise _invalid("translations", "a title in at least one locale")
        source = clean_text(str(given("source", current.get("source")) or ""), "source")
        licence = clean_text(str(given("licence", current.get("licence")) or ""), "licence")
        if len(source) > 300 or len(licence) > 120:
            raise _invalid("source", "source ≤ 300 and licence ≤ 120 characters")
        return {
            "slug": slug,
            "kind": kind,
            "destination_slug": destination,
            "commune_code": commune,
            "recurrence": recurrence,
            "translations": translations,
            "source": source,
            "licence": licence,
        }


def tet_dates(years: Iterable[int]) -> dict[int, date]:
    """Tết Nguyên Đán (lunar 1/1) of each year, Gregorian."""
    return {y: lunar_dates(1, 1, False, date(y, 1, 1), date(y, 12, 31))[0] for y in years}
