"""All SQL of the search domain: reading the catalogue rows that documents are built from, and the search log."""

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from src.guide.models import Commune, CommuneFormerUnit, Destination, DestinationAlias, DestinationTranslation
from src.kernel.db import Reader, UTCDateTime
from src.search.documents import (
    CommuneFacts,
    DestinationFacts,
    commune_document,
    destination_document,
    document_key,
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


async def all_documents(connection: AsyncConnection) -> list[SearchDocument]:
    """Every search document of the current database, destinations then communes, each ordered by its id."""
    communes = await load_communes(connection)
    documents = [
        destination_document(facts, communes.get(facts.commune_code) if facts.commune_code else None)
        for facts in await load_destinations(connection)
    ]
    documents.extend(commune_document(facts) for facts in communes.values())
    return documents


async def documents_for(
    connection: AsyncConnection, slugs: Collection[str], commune_codes: Collection[str]
) -> tuple[list[SearchDocument], set[str]]:
    """The documents of the given destinations and communes as they are now, and the keys among them that no
    longer exist (deleted rows: to remove from the index)."""
    destinations = await load_destinations(connection, slugs) if slugs else []
    codes = set(commune_codes) | {d.commune_code for d in destinations if d.commune_code}
    communes = await load_communes(connection, codes) if codes else {}
    documents = [
        destination_document(facts, communes.get(facts.commune_code) if facts.commune_code else None)
        for facts in destinations
    ]
    documents.extend(commune_document(communes[code]) for code in commune_codes if code in communes)
    found = {d.key for d in documents}
    wanted = {document_key(DocumentType.DESTINATION, s) for s in slugs} | {
        document_key(DocumentType.COMMUNE, c) for c in commune_codes
    }
    return documents, wanted - found


async def zero_result_queries(reader: Reader, *, since: datetime, limit: int) -> Sequence[tuple[str, int, datetime]]:
    """Normalised queries that found nothing since ``since`` (UTC): ``(query, searches, last searched at)``, most
    searched first (then by query), at most ``limit``. Browses (empty text) are left out."""
    statement = (
        select(
            col(SearchLogEntry.query),
            func.count().label("searches"),
            func.max(col(SearchLogEntry.created_at)).label("last_at"),
        )
        .where(
            col(SearchLogEntry.hits) == 0,
            col(SearchLogEntry.created_at) >= bindparam("since", type_=UTCDateTime()),
            col(SearchLogEntry.query) != "",
        )
        .group_by(col(SearchLogEntry.query))
        .order_by(func.count().desc(), col(SearchLogEntry.query))
        .limit(bindparam("limit"))
    )
    result = await reader.execute(statement, {"since": since, "limit": limit})
    rows: Sequence[Any] = result.all()
    return [(str(query), int(searches), last_at) for query, searches, last_at in rows]


_COMMUNE_CODES = select(col(Commune.code))


async def commune_codes(reader: Reader) -> frozenset[str]:
    """Every 2025 commune code of the catalogue."""
    return frozenset(row[0] for row in await reader.execute(_COMMUNE_CODES))
