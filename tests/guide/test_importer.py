"""The catalogue import: a faithful, idempotent projection of the shipped files; slugs never change."""

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from src.guide.importer import apply_catalogue, assign_slugs, load_catalogue
from src.guide.models import Destination, DestinationTranslation
from src.kernel.db import create_engine, unit_of_work
from tests.conftest import BACKENDS, migrated_database


@pytest.fixture(scope="module")
def catalogue(catalogue_dir: Path):  # type: ignore[no-untyped-def]
    return load_catalogue(catalogue_dir)


def test_every_place_row_is_a_destination_and_commune_points_are_not(catalogue) -> None:  # type: ignore[no-untyped-def]
    # 1 summit anchor + 378 GeoNames features + 2,311 settlements + 6 wiki points, less 3 records merged into Fansipan.
    assert len(catalogue.destinations) == 1 + 378 + 2311 + 6 - 3
    assert len(catalogue.communes) == 99
    assert len(catalogue.former_units) == 319
    assert not any(r.source_id.startswith("vn-adm-2025:") for r in catalogue.destinations.values())
    kinds = {r.values["kind"] for r in catalogue.destinations.values()}
    assert {"village", "peak", "mountain_pass", "market", "hotel", "destination", "lake"} <= kinds


def test_unresolved_aliases_are_reported(catalogue) -> None:  # type: ignore[no-untyped-def]
    assert "Thác Bạc (no target)" in catalogue.unresolved_aliases


def test_slug_rules(catalogue) -> None:  # type: ignore[no-untyped-def]
    communes = {code: c["name"] for code, c in catalogue.communes.items()}
    slugs = assign_slugs(catalogue.destinations.values(), set(), communes)
    assert slugs["geonames:10631710"] == "cat-cat"
    assert slugs["anchor:fansipan-summit"] == "fansipan"
    # The aliases file's place_key is a curated slug: Sa Pa is the town its names belong to, not the guide page.
    assert slugs["geonames:1568043"] == "sa-pa"
    assert slugs["wikivoyage:en:Sa Pa"] == "sa-pa-wikivoyage-en-sa-pa"
    # A clash adds the commune; when still ambiguous the source id.
    lao_chai = {slugs[s] for s in ("geonames:1576275", "geonames:1576301", "geonames:9869207")}
    assert "lao-chai" in lao_chai
    assert any(s.startswith("lao-chai-") for s in lao_chai)
    assert len(set(slugs.values())) == len(slugs)
    # A slug once issued is kept: a later clash gets the suffix, not the holder.
    taken = {"cat-cat"}
    again = assign_slugs([catalogue.destinations["geonames:10631710"]], taken, communes)
    assert again["geonames:10631710"] == "cat-cat-ta-van"


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_import_is_idempotent_and_repairs_drift(
    backend_name: str,
    tmp_path: Path,
    catalogue,  # type: ignore[no-untyped-def]
    catalogue_dir: Path,
) -> None:
    url = await migrated_database(backend_name, tmp_path, scratch="laocai_test_import")
    engine = create_engine(url)
    destination = Destination.__table__  # type: ignore[attr-defined]
    translation = DestinationTranslation.__table__  # type: ignore[attr-defined]
    try:
        async with unit_of_work(engine) as session:
            first = await apply_catalogue(session, catalogue)
        assert first.inserted["destination"] == len(catalogue.destinations)
        async with engine.connect() as connection:
            slugs_before = dict((await connection.execute(select(destination.c.source_id, destination.c.slug))).all())
            stamp_before = (await connection.execute(select(func.max(destination.c.updated_at)))).scalar_one()

        async with unit_of_work(engine) as session:
            second = await apply_catalogue(session, load_catalogue(catalogue_dir))
        assert second.changed == 0, second.summary()

        # Drift in the database (an edited name, a lost translation) is repaired by the next import.
        async with engine.begin() as connection:
            await connection.execute(update(destination).where(destination.c.slug == "cat-cat").values(name="Cat"))
            fansipan = select(destination.c.id).where(destination.c.slug == "fansipan").scalar_subquery()
            await connection.execute(
                delete(translation).where(translation.c.destination_id == fansipan, translation.c.locale == "en")
            )
        async with unit_of_work(engine) as session:
            third = await apply_catalogue(session, catalogue)
        assert third.updated["destination"] == 1
        assert third.inserted["destination_translation"] == 1
        assert third.changed == 2, third.summary()
        async with engine.connect() as connection:
            slugs_after = dict((await connection.execute(select(destination.c.source_id, destination.c.slug))).all())
            others = select(func.max(destination.c.updated_at)).where(destination.c.slug != "cat-cat")
            stamp_others = (await connection.execute(others)).scalar_one()
        assert slugs_after == slugs_before
        assert stamp_others == stamp_before
    finally:
        await engine.dispose()
