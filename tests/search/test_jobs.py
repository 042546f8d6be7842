"""Freshness: a catalogue edit through ``PATCH /v1/editor/destinations/{slug}`` reaches search through the job
enqueued in its unit of work (after the commit, never on rollback), the sync is idempotent, and the periodic
convergence job repairs what a lost event missed. Real database (SQLite; PostgreSQL + SAQ on Redis when
configured), real embedded index, real job system of the app (its lifespan runs)."""

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text

from src.app import create_app, create_jobs, job_registry
from src.guide.events import CATALOGUE_CHANGED, catalogue_changed
from src.kernel.config import Settings
from src.kernel.db import create_engine, unit_of_work
from src.kernel.jobs import JobContext
from src.search import indexing
from src.search.engines import build_engine
from src.search.jobs import CONVERGE_INDEX, RESOURCE, converge_index
from src.search.port import SearchQuery
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, catalogue_database, cli_env
from tests.guide.content_support import publish
from tests.kernel.auth_support import bearer, login, make_user
from tests.search.support import app_settings, build_index, client_of, lifespan

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def edit_app(
    backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue_dir: Path
) -> AsyncIterator[Litestar]:
    """An app on a catalogue database of its own (these tests change it), with its jobs running."""
    url = await catalogue_database(backend, tmp_path_factory.mktemp("edit-db"), catalogue_dir, scratch="search_edit")
    app = create_app(app_settings(backend, url, tmp_path_factory.mktemp("edit-data")))
    async with lifespan(app):
        await build_index(app)
        yield app


@pytest.fixture(scope="module")
async def http(edit_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(edit_app) as client:
        yield client


@pytest.fixture(scope="module")
async def editor(edit_app: Litestar, http: httpx.AsyncClient) -> dict[str, str]:
    _user_id, email = await make_user(edit_app, "editor")
    return bearer((await login(http, email))["access_token"])


async def found(http: httpx.AsyncClient, q: str, slug: str, **params: Any) -> bool:
    response = await http.get("/v1/search", params={"q": q, "limit": 20, **params})
    assert response.status_code == 200, response.text
    return slug in [hit["id"] for hit in response.json()["hits"]]


async def eventually(http: httpx.AsyncClient, q: str, slug: str, *, present: bool = True, seconds: float = 10) -> float:
    """Poll the search until ``slug`` is (or is no longer) among the hits for ``q``; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await found(http, q, slug) == present:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{slug} {'never appeared' if present else 'never left'} in the hits for {q!r}")


async def settle(app: Litestar) -> None:
    """Let the jobs already sent run (the in-process runner drains; SAQ's worker gets a moment)."""
    runner = app.state.jobs.runner
    if runner is not None:
        await runner.drain(10)
    else:
        await asyncio.sleep(1.5)


async def current_etag(http: httpx.AsyncClient, editor: dict[str, str], slug: str) -> str:
    response = await http.get(f"/v1/editor/destinations/{slug}", headers=editor)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.headers["etag"]


async def patch(
    http: httpx.AsyncClient, editor: dict[str, str], slug: str, body: Any, if_match: str | None
) -> httpx.Response:
    headers = dict(editor)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await http.patch(f"/v1/editor/destinations/{slug}", json=body, headers=headers)


async def test_an_edit_is_searchable_within_seconds(
    edit_app: Litestar, http: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    assert not await found(http, "zyxwvu", "cat-cat")
    before = await http.get("/v1/destinations/cat-cat")  # now in the server's response cache
    assert before.json()["name"] == "Cát Cát"
    etag = await current_etag(http, editor, "cat-cat")
    assert etag.startswith('"')  # a strong validator, not W/"...": If-Match compares strongly
    response = await patch(
        http,
        editor,
        "cat-cat",
        {"name": "Cát Cát Zyxwvu", "add_aliases": [{"name": "Qwertyplace", "lang": "en"}]},
        etag,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["names"]["vi"]) == ("Cát Cát Zyxwvu", "Cát Cát Zyxwvu")
    assert {"name": "Qwertyplace", "lang": "en", "kind": "variant"} in body["aliases"]
    assert response.headers["etag"] not in (etag, "")
    assert response.headers["etag"] == await current_etag(http, editor, "cat-cat")
    took = await eventually(http, "zyxwvu", "cat-cat")
    assert took < 10
    assert await found(http, "qwertyplace", "cat-cat")
    assert await found(http, "Cát Cát Zyxwvu", "cat-cat")
    # The catalogue's own response cache was purged after the commit: no stale name for the next minute.
    assert (await http.get("/v1/destinations/cat-cat")).json()["name"] == "Cát Cát Zyxwvu"


async def test_translations_and_alias_removal(http: httpx.AsyncClient, editor: dict[str, str]) -> None:
    etag = await current_etag(http, editor, "ta-phin")
    response = await patch(
        http,
        editor,
        "ta-phin",
        {"translations": {"fr": "Village Taphinois", "ko": "타핀마을"}, "add_aliases": [{"name": "Plumbobia"}]},
        etag,
    )
    assert response.status_code == 200, response.text
    assert response.json()["names"]["fr"] == "Village Taphinois"
    await eventually(http, "taphinois", "ta-phin")
    hits = (await http.get("/v1/search", params={"q": "taphinois", "lang": "fr"})).json()["hits"]
    hit = next(h for h in hits if h["id"] == "ta-phin")
    assert (hit["name"], hit["name_locale"]) == ("Village Taphinois", "fr")
    await eventually(http, "plumbobia", "ta-phin")
    response = await patch(
        http,
        editor,
        "ta-phin",
        {"translations": {"fr": None}, "remove_aliases": ["Plumbobia"]},
        response.headers["etag"],
    )
    assert response.status_code == 200, response.text
    assert "fr" not in response.json()["names"]
    assert "ko" in response.json()["names"]
    await eventually(http, "plumbobia", "ta-phin", present=False)
    await eventually(http, "taphinois", "ta-phin", present=False)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),  # changes nothing
        ({"name": ""}, 422),
        ({"name": "   "}, 422),
        ({"name": "a\u0001b"}, 422),
        ({"name": "x" * 201}, 422),
        ({"translations": {"vi": None}}, 422),
        ({"translations": {"de": "Dorf"}}, 422),
        ({"name": "A", "translations": {"vi": "B"}}, 422),
        ({"add_aliases": [{"name": "X", "kind": "false-friend"}]}, 422),
        ({"add_aliases": [{"name": "X", "lang": "not a tag"}]}, 422),
        ({"colour": "red"}, 400),
    ],
)
async def test_invalid_edits_are_refused(
    http: httpx.AsyncClient, editor: dict[str, str], body: dict[str, Any], status: int
) -> None:
    etag = await current_etag(http, editor, "lao-chai")
    response = await patch(http, editor, "lao-chai", body, etag)
    assert response.status_code in ({status} if status == 422 else {400, 422}), response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await current_etag(http, editor, "lao-chai") == etag  # nothing changed


async def test_preconditions(http: httpx.AsyncClient, editor: dict[str, str]) -> None:
    body = {"translations": {"en": "Lao Chai village"}}
    missing = await patch(http, editor, "lao-chai", body, None)
    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"
    etag = await current_etag(http, editor, "lao-chai")
    weak = await patch(http, editor, "lao-chai", body, f"W/{etag}")
    assert weak.status_code == 412  # If-Match compares strongly (RFC 9110 §13.1.1)
    assert (await patch(http, editor, "lao-chai", body, '"0000", "1111"')).status_code == 412
    ok = await patch(http, editor, "lao-chai", body, f'"stale", {etag}')
    assert ok.status_code == 200, ok.text
    stale = await patch(http, editor, "lao-chai", body, etag)  # the version it named is gone
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert (await patch(http, editor, "lao-chai", body, "*")).status_code == 200
    assert (await patch(http, editor, "no-such-place", body, "*")).status_code == 404


async def test_two_concurrent_edits_of_one_version_cannot_both_win(
    http: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    etag = await current_etag(http, editor, "sin-chai")
    responses = await asyncio.gather(
        *(patch(http, editor, "sin-chai", {"translations": {"en": f"Sin Chai {i}"}}, etag) for i in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 200)
    detail = (await http.get("/v1/editor/destinations/sin-chai", headers=editor)).json()
    assert detail["names"]["en"] == winner.json()["names"]["en"]


async def test_a_rolled_back_edit_sends_nothing_and_the_sweep_repairs_a_lost_event(
    edit_app: Litestar, http: httpx.AsyncClient
) -> None:
    update = text(
        "UPDATE destination_translation SET name = :name WHERE locale = 'vi' "
        "AND destination_id = (SELECT id FROM destination WHERE slug = 'y-linh-ho')"
    )
    with pytest.raises(RuntimeError, match="the edit failed"):  # noqa: PT012  (the block is the unit of work)
        async with unit_of_work(edit_app.state.engine) as session:
            await (await session.connection()).execute(update, {"name": "Ý Linh Hồ Rollbackword"})
            catalogue_changed(session, slugs=["y-linh-ho"])
            raise RuntimeError("the edit failed")
    await settle(edit_app)
    assert not await found(http, "rollbackword", "y-linh-ho")
    # A committed change whose event is lost (no job at all): search does not know it...
    async with unit_of_work(edit_app.state.engine) as session:
        await (await session.connection()).execute(update, {"name": "Ý Linh Hồ Lostevent"})
    await settle(edit_app)
    assert not await found(http, "lostevent", "y-linh-ho")
    # ...until the periodic convergence job finds the stored fingerprint stale and rebuilds.
    context = JobContext(
        engine=edit_app.state.engine,
        name=CONVERGE_INDEX.name,
        attempt=1,
        resources={RESOURCE: edit_app.state.search_engine},
    )
    await converge_index(context)
    assert await found(http, "lostevent", "y-linh-ho")
    assert await indexing.ensure_fresh(edit_app.state.engine, edit_app.state.search_engine) is None  # fresh now


async def test_sync_is_idempotent_and_removes_deleted_rows(edit_app: Litestar, http: httpx.AsyncClient) -> None:
    database, engine = edit_app.state.engine, edit_app.state.search_engine
    first = await indexing.sync(database, engine, slugs=["cat-cat"], commune_codes=["03006"])
    again = await indexing.sync(database, engine, slugs=["cat-cat"], commune_codes=["03006"])
    assert first == again == (2, 0)
    assert await found(http, "cat cat", "cat-cat")
    async with unit_of_work(database) as session:
        slug = (
            await (await session.connection()).execute(
                text("SELECT slug FROM destination WHERE kind = 'village' AND slug LIKE 'ban-%' ORDER BY slug LIMIT 1")
            )
        ).scalar_one()
    name = (await http.get(f"/v1/destinations/{slug}")).json()["name"]
    assert await found(http, name, slug)
    async with unit_of_work(database) as session:
        await (await session.connection()).execute(text("DELETE FROM destination WHERE slug = :s"), {"s": slug})
    assert await indexing.sync(database, engine, slugs=[slug], commune_codes=[]) == (0, 1)
    assert not await found(http, name, slug)
    assert await indexing.sync(database, engine, slugs=[slug], commune_codes=[]) == (0, 1)  # deleting twice is fine


def test_the_registry_holds_the_freshness_jobs() -> None:
    registry = job_registry()
    assert registry.get(CATALOGUE_CHANGED).retry.retries > 1  # retried while the engine is down
    assert registry.get("search.sync_documents").handler is registry.get(CATALOGUE_CHANGED).handler
    periodic = registry.periodic["search.converge_index"]
    assert (periodic.scope, periodic.cron) == ("global", "*/5 * * * *")


def _start_worker(env: dict[str, str], log: IO[bytes]) -> "subprocess.Popen[bytes]":
    return subprocess.Popen([sys.executable, "-m", "src.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.skipif(not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="needs TEST_DATABASE_URL and TEST_REDIS_URL")
async def test_laocai_worker_syncs_the_index(tmp_path: Path, catalogue_dir: Path) -> None:
    """A real ``laocai worker`` process takes ``guide.catalogue_changed`` from Redis and writes the index in the data
    dir it shares with the servers (its job resources hold the search engine)."""
    url = await catalogue_database("postgresql", tmp_path / "db", catalogue_dir, scratch="search_worker")
    queue = f"search-worker-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "var"
    settings = Settings(database_url=url, redis_url=TEST_REDIS_URL, jobs_queue=queue, data_dir=data_dir)
    database = create_engine(url)
    index = build_engine(settings)
    await indexing.rebuild(database, index)
    sender = create_jobs(settings, database, in_server=True, resources={})  # sends only: no worker here
    await sender.start()
    log = (tmp_path / "worker.log").open("wb")
    env = cli_env(database_url=url, redis_url=TEST_REDIS_URL, jobs_queue=queue, data_dir=str(data_dir))
    worker = _start_worker(env, log)
    try:
        deadline = time.monotonic() + 30
        while "worker ready" not in (tmp_path / "worker.log").read_text(errors="replace"):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        async with unit_of_work(database) as session:
            await (await session.connection()).execute(
                text(
                    "UPDATE destination_translation SET name = 'Bản Workerword' WHERE locale = 'vi' "
                    "AND destination_id = (SELECT id FROM destination WHERE slug = 'lao-chai')"
                )
            )
            catalogue_changed(session, slugs=["lao-chai"])
        deadline = time.monotonic() + 15
        while True:
            result = await index.search(SearchQuery(text="workerword"))
            if [hit.document.ref for hit in result.hits] == ["lao-chai"]:
                break
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text(errors="replace")
            await asyncio.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        await sender.stop()
        await index.close()
        await database.dispose()


async def test_properties_join_the_index_and_leave_it_when_unlisted(
    edit_app: Litestar, http: httpx.AsyncClient
) -> None:
    from sqlalchemy import update as sql_update

    from src.booking.events import property_changed
    from src.booking.models import Property
    from src.kernel.db import unit_of_work
    from tests.booking.support import make_owner, make_property

    owner_id, _ = await make_owner(edit_app)
    property_id = await make_property(edit_app, owner_id, name="Nhà nghỉ Quyxuyen thử nghiệm", kind="guesthouse")
    async with unit_of_work(edit_app.state.engine) as session:
        property_changed(session, [property_id])
    await settle(edit_app)
    await eventually(http, "quyxuyen", str(property_id))
    response = await http.get("/v1/search", params={"q": "quyxuyen", "type": "property", "kind": "guesthouse"})
    hit = response.json()["hits"][0]
    assert hit["type"] == "property"
    assert hit["id"] == str(property_id)
    assert hit["commune"]["code"] == "03006"
    # the full rebuild's projection holds it too, so the convergence sweep does not drop it
    report = await indexing.ensure_fresh(edit_app.state.engine, edit_app.state.search_engine)
    assert report is None or report.properties >= 1
    await eventually(http, "quyxuyen", str(property_id))
    async with unit_of_work(edit_app.state.engine) as session:
        await session.exec(sql_update(Property).where(Property.id == property_id).values(is_listed=False))  # type: ignore[arg-type]
        property_changed(session, [property_id])
    await settle(edit_app)
    await eventually(http, "quyxuyen", str(property_id), present=False)


async def test_a_published_article_is_found_and_leaves_when_archived(
    edit_app: Litestar, http: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    reviewer = bearer((await login(http, (await make_user(edit_app, "editor"))[1]))["access_token"])
    word = "Quokkastory" + uuid.uuid4().hex[:6]
    body = {
        "translations": {"vi": {"title": f"Chuyện {word}", "summary": "S", "body": "B"}, "en": {"title": word}},
        "destinations": ["cat-cat"],
    }
    published = await publish(http, "article", body, editor, reviewer)
    slug = published.json()["slug"]
    await eventually(http, word, slug)
    hit = next(h for h in (await http.get("/v1/search", params={"q": word, "type": "article"})).json()["hits"])
    assert (hit["type"], hit["id"]) == ("article", slug)
    archived = await http.post(
        f"/v1/editor/articles/{slug}/archive", headers={**editor, "If-Match": published.headers["etag"]}
    )
    assert archived.status_code == 200, archived.text
    await eventually(http, word, slug, present=False)
