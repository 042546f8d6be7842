"""All SQL of the search domain: reading the catalogue rows that documents are built from, and the search log."""

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from src.booking.models import Property
from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationTranslation,
    GuidePublication,
)
from src.kernel.db import Reader, UTCDateTime
from src.search.documents import (
    CommuneFacts,
    ContentFacts,
    DestinationFacts,
    PropertyFacts,
    commune_document,
    content_document,
    destination_document,
    document_key,
    property_document,
)
from src.search.models import SearchLogEntry
from src.search.port import DocumentType, SearchDocument


async def load_communes(connection: AsyncConnection, codes: Collection[str] | None = None) -> dict[str, CommuneFacts]:
    """Communes (all, or those in ``codes``) with their former units, keyed by code."""
    query = select(
        col(Commune.code),
        col(Commune.name),
        col(Commune.full_name),
        col(Commune.name_en),
        col(Commune.unit_type),
        col(Commune.rep_lat),
        col(Commune.rep_lon),
        col(Commune.old_province),
        col(Commune.old_districts),
    ).order_by(col(Commune.code))
    former_query = select(col(CommuneFormerUnit.commune_code), col(CommuneFormerUnit.old_name)).order_by(
        col(CommuneFormerUnit.commune_code), col(CommuneFormerUnit.old_code)
    )
    if codes is not None:
        query = query.where(col(Commune.code).in_(list(codes)))
        former_query = former_query.where(col(CommuneFormerUnit.commune_code).in_(list(codes)))
    former: dict[str, list[str]] = defaultdict(list)
    for code, old_name in (await connection.execute(former_query)).all():
        former[code].append(old_name)
    return {
        row.code: CommuneFacts(
            code=row.code,
            name=row.name,
            full_name=row.full_name,
            name_en=row.name_en,
            unit_type=row.unit_type,
            rep_lat=row.rep_lat,
            rep_lon=row.rep_lon,
            old_province=row.old_province,
            old_districts=tuple(row.old_districts or ()),
            former_units=tuple(former.get(row.code, ())),
        )
        for row in (await connection.execute(query)).all()
    }


async def load_destinations(
    connection: AsyncConnection, slugs: Collection[str] | None = None
) -> list[DestinationFacts]:
    """Destinations (all, or those in ``slugs``) with their translations and aliases, ordered by slug."""
    query = select(
        col(Destination.id),
        col(Destination.slug),
        col(Destination.kind),
        col(Destination.name),
        col(Destination.name_locale),
        col(Destination.source),
        col(Destination.population),
        col(Destination.lat),
        col(Destination.lon),
        col(Destination.commune_code),
    ).order_by(col(Destination.slug))
    if slugs is not None:
        query = query.where(col(Destination.slug).in_(list(slugs)))
    rows = (await connection.execute(query)).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    translations: dict[int, dict[str, str]] = defaultdict(dict)
    aliases: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for chunk_start in range(0, len(ids), 5000):  # stay under SQLite's bound-parameter limit
        chunk = ids[chunk_start : chunk_start + 5000]
        t_query = (
            select(
                col(DestinationTranslation.destination_id),
                col(DestinationTranslation.locale),
                col(DestinationTranslation.name),
            )
            .where(col(DestinationTranslation.destination_id).in_(chunk))
            .order_by(col(DestinationTranslation.destination_id), col(DestinationTranslation.locale))
        )
        for destination_id, locale, name in (await connection.execute(t_query)).all():
            translations[destination_id][locale] = name
        a_query = (
            select(col(DestinationAlias.destination_id), col(DestinationAlias.alias), col(DestinationAlias.alias_kind))
            .where(col(DestinationAlias.destination_id).in_(chunk))
            .order_by(col(DestinationAlias.destination_id), col(DestinationAlias.id))
        )
        for destination_id, alias, kind in (await connection.execute(a_query)).all():
            aliases[destination_id].append((alias, kind))
    return [
        DestinationFacts(
            slug=row.slug,
            kind=row.kind,
            name=row.name,
            name_locale=row.name_locale,
            source=row.source,
            population=row.population,
            lat=row.lat,
            lon=row.lon,
            commune_code=row.commune_code,
            translations=translations.get(row.id, {}),
            aliases=tuple(aliases.get(row.id, ())),
        )
        for row in rows
    ]


async def load_properties(connection: AsyncConnection, ids: Collection[str] | None = None) -> list[PropertyFacts]:
    """Listed properties (all, or those of ``ids``, UUID strings), ordered by id; unlisted ones are left out (their
    documents are deleted)."""
    query = (
        select(
            col(Property.id),
            col(Property.name),
            col(Property.kind),
            col(Property.lat),
            col(Property.lon),
            col(Property.commune_code),
        )
        .where(col(Property.is_listed).is_(True))
        .order_by(col(Property.id))
    )
    if ids is not None:
        wanted = []
        for value in ids:
            try:
                wanted.append(UUID(value))
            except ValueError:
                continue
        query = query.where(col(Property.id).in_(wanted))
    return [
        PropertyFacts(
            id=str(row.id), name=row.name, kind=row.kind, lat=row.lat, lon=row.lon, commune_code=row.commune_code
        )
        for row in (await connection.execute(query)).all()
    ]


async def load_content(
    connection: AsyncConnection, refs: Collection[tuple[str, str]] | None = None
) -> list[ContentFacts]:
    """Published articles and tours (all, or those of ``refs``: (kind, slug) pairs), by kind then slug, each at its
    first destination (a tour: its first stop) or else its first commune's representative point. An item naming
    neither has no point and is not indexed."""
    query = select(col(GuidePublication.kind), col(GuidePublication.slug), col(GuidePublication.body)).order_by(
        col(GuidePublication.kind), col(GuidePublication.slug)
    )
    if refs is not None:
        slugs = {slug for _kind, slug in refs}
        query = query.where(col(GuidePublication.slug).in_(sorted(slugs)))
    rows = [row for row in (await connection.execute(query)).all() if refs is None or (row.kind, row.slug) in refs]
    places: dict[str, tuple[float, float, str | None]] = {}
    communes: dict[str, tuple[float, float]] = {}
    wanted_places = {_first_place(row.body) for row in rows} - {None}
    if wanted_places:
        place_query = select(
            col(Destination.slug), col(Destination.lat), col(Destination.lon), col(Destination.commune_code)
        ).where(col(Destination.slug).in_(sorted(p for p in wanted_places if p)))
        places = {r.slug: (r.lat, r.lon, r.commune_code) for r in (await connection.execute(place_query)).all()}
    wanted_communes = {code for row in rows for code in row.body.get("communes", [])[:1]}
    if wanted_communes:
        commune_query = select(col(Commune.code), col(Commune.rep_lat), col(Commune.rep_lon)).where(
            col(Commune.code).in_(sorted(wanted_communes))
        )
        communes = {r.code: (r.rep_lat, r.rep_lon) for r in (await connection.execute(commune_query)).all()}
    facts = []
    for row in rows:
        titles = {
            locale: texts["title"] for locale, texts in row.body.get("translations", {}).items() if texts.get("title")
        }
        first_commune = next(iter(row.body.get("communes", [])), None)
        place = places.get(_first_place(row.body) or "")
        if place is not None:
            lat, lon, commune_code = place[0], place[1], first_commune or place[2]
        elif first_commune in communes:
            (lat, lon), commune_code = communes[first_commune], first_commune
        else:
            continue
        facts.append(ContentFacts(slug=row.slug, kind=row.kind, titles=titles, lat=lat, lon=lon,
                                  commune_code=commune_code))  # fmt: skip
    return facts


def _first_place(body: dict[str, Any]) -> str | None:
    stops = body.get("stops") or []
    if stops:
        return str(stops[0]["destination"])
    destinations = body.get("destinations") or []
    return str(destinations[0]) if destinations else None


async def all_documents(connection: AsyncConnection) -> list[SearchDocument]:
    """Every search document of the current database: destinations, communes, then listed properties, each
    ordered by its id."""
    communes = await load_communes(connection)
    documents = [
        destination_document(facts, communes.get(facts.commune_code) if facts.commune_code else None)
        for facts in await load_destinations(connection)
    ]
    documents.extend(commune_document(facts) for facts in communes.values())
    documents.extend(
        property_document(facts, communes.get(facts.commune_code)) for facts in await load_properties(connection)
    )
    documents.extend(
        content_document(facts, communes.get(facts.commune_code) if facts.commune_code else None)
        for facts in await load_content(connection)
    )
    return documents


async def documents_for(
    connection: AsyncConnection,
    slugs: Collection[str],
    commune_codes: Collection[str],
    property_ids: Collection[str] = (),
    content: Collection[tuple[str, str]] = (),
) -> tuple[list[SearchDocument], set[str]]:
    """The documents of the given destinations, communes, properties (UUID strings) and published articles and
    tours ((kind, slug) pairs) as they are now, and the keys among them that no longer exist (deleted, unlisted or
    withdrawn rows: to remove from the index)."""
    destinations = await load_destinations(connection, slugs) if slugs else []
    properties = await load_properties(connection, property_ids) if property_ids else []
    items = await load_content(connection, set(content)) if content else []
    codes = (
        set(commune_codes)
        | {d.commune_code for d in destinations if d.commune_code}
        | {p.commune_code for p in properties}
        | {i.commune_code for i in items if i.commune_code}
    )
    communes = await load_communes(connection, codes) if codes else {}
    documents = [
        destination_document(facts, communes.get(facts.commune_code) if facts.commune_code else None)
        for facts in destinations
    ]
    documents.extend(commune_document(communes[code]) for code in commune_codes if code in communes)
    documents.extend(property_document(facts, communes.get(facts.commune_code)) for facts in properties)
    documents.extend(
        content_document(facts, communes.get(facts.commune_code) if facts.commune_code else None) for facts in items
    )
    found = {d.key for d in documents}
    wanted = (
        {document_key(DocumentType.DESTINATION, s) for s in slugs}
        | {document_key(DocumentType.COMMUNE, c) for c in commune_codes}
        | {document_key(DocumentType.PROPERTY, p) for p in property_ids}
        | {document_key(kind, slug) for kind, slug in content}
    )
    return documents, wanted - found


#: Filters that narrow a search (a far point with a radius, a kind...): a search with one of them that found nothing
#: says nothing about the words, so the zero-result report leaves it out.
NARROWING_FILTERS = ("types", "kinds", "communes", "radius_km")
#: The zero-result report reads at most this many of the latest zero-hit rows.
MAX_ZERO_ROWS_SCANNED = 100_000


async def zero_result_queries(reader: Reader, *, since: datetime, limit: int) -> Sequence[tuple[str, int, datetime]]:
    """Normalised queries that found nothing since ``since`` (UTC): ``(query, searches, last searched at)``, most
    searched first (then by query), at most ``limit``. Browses (empty text) and searches narrowed by a filter
    (``NARROWING_FILTERS``: "sapa" within 5 km of the South Pole finds nothing, yet "sapa" is no gap in the
    catalogue) are left out; the latest ``MAX_ZERO_ROWS_SCANNED`` zero-hit rows are read."""
    statement = (
        select(col(SearchLogEntry.query), col(SearchLogEntry.filters), col(SearchLogEntry.created_at))
        .where(
            col(SearchLogEntry.hits) == 0,
            col(SearchLogEntry.created_at) >= bindparam("since", type_=UTCDateTime()),
            col(SearchLogEntry.query) != "",
        )
        .order_by(col(SearchLogEntry.created_at).desc())
        .limit(MAX_ZERO_ROWS_SCANNED)
    )
    result = await reader.execute(statement, {"since": since})
    counts: dict[str, list[Any]] = {}
    rows: Sequence[Any] = result.all()
    for query, filters, created_at in rows:
        if isinstance(filters, str):
            filters = json.loads(filters)
        if isinstance(filters, dict) and any(key in filters for key in NARROWING_FILTERS):
            continue
        entry = counts.setdefault(str(query), [0, created_at])
        entry[0] += 1
        entry[1] = max(entry[1], created_at)
    ranked = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
    return [(query, int(n), last_at) for query, (n, last_at) in ranked]


_COMMUNE_CODES = select(col(Commune.code))


async def commune_codes(reader: Reader) -> frozenset[str]:
    """Every 2025 commune code of the catalogue."""
    return frozenset(row[0] for row in await reader.execute(_COMMUNE_CODES))
