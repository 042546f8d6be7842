"""Sample guide content for the embedded default (``laocai serve``), flagged ``is_sample``: built only from facts in
the shipped data and the product brief, never invented about real places or peoples.

Events: the Bắc Hà market on Sundays and the Cán Cấu market on Saturdays (the days are the product brief's, issue
9; the markets are GeoNames features, CC BY 4.0, data/SOURCES.md §8), all-day because no hours are shipped; and Tết
Nguyên Đán (lunar 1/1, three days), province-wide, whose dates are checked against the shipped public holidays.
"""

from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import repository
from src.guide.calendar import EditorEventService, EventInput, EventTexts
from src.guide.models import GuideEvent
from src.kernel.db import connection_reader

_EVENT = GuideEvent.__table__  # type: ignore[attr-defined]
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


async def load_guide_samples(session: AsyncSession) -> int:
    """Insert the sample events that are not there yet (by slug; an editor's later change is kept) in ``session``'s
    unit of work; how many were inserted. A sample whose destination is missing from the catalogue is skipped."""
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
