"""Sample guide content for the embedded default (``laocai serve``), flagged ``is_sample``: built only from facts in
the shipped data and the product brief, never invented about real places or peoples.

Tours and articles: ``data/guide/sample_content.json`` (data/SOURCES.md §13; every name, elevation, distance and
commune in their texts is checked against the shipped files by tests/guide/test_sample_content.py), published as
they are (no account wrote or reviewed them: author and reviewer are recorded as none).

Events: the Bắc Hà market on Sundays and the Cán Cấu market on Saturdays (the days are the product brief's, issue
9; the markets are GeoNames features, CC BY 4.0, data/SOURCES.md §8), all-day because no hours are shipped; and Tết
Nguyên Đán (lunar 1/1, three days), province-wide, whose dates are checked against the shipped public holidays.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import repository
from src.guide.calendar import EditorEventService, EventInput, EventTexts
from src.guide.content import TOPICS, EditorContentService
from src.guide.content_schemas import ItemCreate
from src.guide.models import GuideEvent, GuideItem
from src.kernel.config import PROJECT_ROOT
from src.kernel.db import connection_reader

_EVENT = GuideEvent.__table__  # type: ignore[attr-defined]
_ITEM = GuideItem.__table__  # type: ignore[attr-defined]
CONTENT_FILE = PROJECT_ROOT / "data" / "guide" / "sample_content.json"
#: The sample file's topic words that the guide's vocabulary names otherwise.
TOPIC_ALIASES = {"markets": "market", "communes-2025": "administration"}
BRIEF = "Lào Cai Travel product brief (issue 9): market day; place: GeoNames (data/SOURCES.md §8)"

SAMPLE_EVENTS = (
    EventInput(
        slug="bac-ha-sunday-market",
        kind="market",
        destination="bac-ha-market",
        commune="02839",
        recurrence={"type": "rrule", "rule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2025-01-05"},
        translations={
            "vi": EventTexts(title="Chợ phiên Bắc Hà (Chủ nhật)"),
            "en": EventTexts(title="Bắc Hà market (Sundays)"),
        },
        source=BRIEF,
        licence="CC BY 4.0 (GeoNames)",
    ),
    EventInput(
        slug="can-cau-saturday-market",
        kind="market",
        destination="can-cau-market",
        commune="02809",
        recurrence={"type": "rrule", "rule": "FREQ=WEEKLY;BYDAY=SA", "start_date": "2025-01-04"},
        translations={
            "vi": EventTexts(title="Chợ phiên Cán Cấu (thứ Bảy)"),
            "en": EventTexts(title="Cán Cấu market (Saturdays)"),
        },
        source=BRIEF,
        licence="CC BY 4.0 (GeoNames)",
    ),
    EventInput(
        slug="tet-nguyen-dan",
        kind="festival",
        destination=None,
        commune=None,
        recurrence={"type": "lunar", "month": 1, "day": 1, "leap": False, "days": 3},
        translations={"vi": EventTexts(title="Tết Nguyên Đán"), "en": EventTexts(title="Lunar New Year (Tết)")},
        source="Vietnamese lunar calendar, lunar 1/1; checked against data/calendar/vn_public_holidays_2025_2027.csv",
        licence="fact (calendar)",
    ),
)  # fmt: skip


async def load_guide_samples(session: AsyncSession, path: Path = CONTENT_FILE) -> int:
    """Insert the sample events, tours and articles that are not there yet (by slug; an editor's later change is
    kept) in ``session``'s unit of work, publishing the tours and articles; how many were inserted. A sample naming a
    destination the catalogue lacks is skipped."""
    return await _load_events(session) + await _load_content(session, path)


@cache
def _document(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


async def _load_content(session: AsyncSession, path: Path) -> int:
    document = _document(path)
    connection = await session.connection()
    existing = set((await connection.execute(sa_select(_ITEM.c.slug))).scalars())
    reader = connection_reader(connection)
    source_ids = sorted(
        {i for item in document["items"] for i in [*item.get("destinations", []), *item.get("stops", [])]}
    )
    slugs = await repository.slugs_by_source_id(reader, source_ids)
    service = EditorContentService(session, "vi", None)
    inserted = 0
    for item in document["items"]:
        if item["slug"] in existing:
            continue
        wanted = [*item.get("destinations", []), *item.get("stops", [])]
        if any(source_id not in slugs for source_id in wanted):
            continue
        topics = sorted({TOPIC_ALIASES.get(t, t) for t in item.get("topics", [])} & TOPICS)
        fields: dict[str, Any] = {
            "slug": item["slug"],
            "translations": item["translations"],
            "destinations": [slugs[i] for i in item.get("destinations", [])],
            "communes": item.get("communes", []),
            "topics": topics,
        }
        if item["kind"] == "tour":
            fields["stops"] = [{"destination": slugs[i]} for i in item.get("stops", [])]
        data = msgspec.convert(fields, ItemCreate)
        _view, etag = await service.create(item["kind"], data, is_sample=True)
        _view, etag = await service.step(item["kind"], item["slug"], etag, "submit", system=True)
        await service.step(item["kind"], item["slug"], etag, "publish", system=True)
        inserted += 1
    return inserted


async def _load_events(session: AsyncSession) -> int:
    connection = await session.connection()
    existing = set((await connection.execute(sa_select(_EVENT.c.slug))).scalars())
    service = EditorEventService(session, None)
    reader = connection_reader(connection)
    inserted = 0
    for sample in SAMPLE_EVENTS:
        if sample.slug in existing:
            continue
        if isinstance(sample.destination, str) and not await repository.summaries_by_slug(
            reader, [sample.destination], ()
        ):
            continue
        await service.create(sample, is_sample=True)
        inserted += 1
    return inserted
