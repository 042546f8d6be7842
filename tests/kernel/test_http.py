"""HTTP behaviour shared by every catalogue GET: ETag/304, Content-Language, readiness, OpenAPI, stores."""

from pathlib import Path

import httpx
from litestar import Litestar
from litestar.stores.redis import RedisStore

from src.app import create_app
from src.kernel.caching import clear_response_cache
from src.kernel.config import Settings

#: Every destination within 3 km of Sa Pa town: a response over 1 KiB, so it is gzip-compressible.
SA_PA_RADIUS = {"lat": 22.3364, "lon": 103.8438, "radius_km": 3, "limit": 100}


async def test_etag_and_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/v1/destinations/cat-cat", headers={"Accept-Language": "en"})
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert "max-age" in first.headers["cache-control"]
    assert "Accept-Language" in first.headers["vary"]
    again = await client.get("/v1/destinations/cat-cat", headers={"Accept-Language": "en", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # Another language is another representation (even where the bytes are alike): another tag, so no 304.
    other = await client.get("/v1/destinations/cat-cat", headers={"Accept-Language": "ko", "If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag
    listing = await client.get("/v1/communes")
    assert (
        await client.get("/v1/communes", headers={"If-None-Match": f'"x", {listing.headers["etag"]}'})
    ).status_code == 304
    features = await client.get("/v1/map/features", params={"bbox": "103.75,22.28,103.90,22.40"})
    replay = await client.get(
        "/v1/map/features",
        params={"bbox": "103.75,22.28,103.90,22.40"},
        headers={"If-None-Match": features.headers["etag"]},
    )
    assert replay.status_code == 304


async def test_errors_and_probes_are_not_cached(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/destinations/nowhere-at-all")
    assert "etag" not in missing.headers
    ready = await client.get("/health/ready")
    assert "etag" not in ready.headers


async def test_health(client: httpx.AsyncClient, app: Litestar) -> None:
    assert (await client.get("/health/live")).json() == {"status": "live"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["checks"]["database"] == "ok"
    assert body["destinations"] > 2000
    expected_redis = "ok" if app.state.redis is not None else "not configured"
    assert body["checks"]["redis"] == expected_redis


async def test_openapi_documents_the_contract(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    for path in (
        "/v1/destinations",
        "/v1/destinations/{slug}",
        "/v1/map/features",
        "/v1/communes",
        "/v1/communes/{code}",
    ):
        assert path in spec["paths"], path
    responses = spec["paths"]["/v1/destinations"]["get"]["responses"]
    assert "422" in responses
    parameters = {p["name"] for p in spec["paths"]["/v1/destinations"]["get"]["parameters"]}
    assert {"lat", "lon", "radius_km", "bbox", "kind", "commune", "limit", "cursor", "lang"} <= parameters


async def test_shared_store_uses_redis_when_configured(app: Litestar) -> None:
    store = app.stores.get("test-roundtrip")
    if app.state.redis is None:
        assert not isinstance(store, RedisStore)
    else:
        assert isinstance(store, RedisStore)
    await store.set("probe", b"value", expires_in=30)
    assert await store.get("probe") == b"value"
    await store.delete("probe")
    assert await store.get("probe") is None


async def test_gzip_keeps_the_entity_tag_stable(client: httpx.AsyncClient) -> None:
    params = SA_PA_RADIUS
    plain = await client.get("/v1/destinations", params=params, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await client.get("/v1/destinations", params=params, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json()  # httpx decodes the gzip body
    assert "Accept-Encoding" in zipped.headers["vary"]
    again = await client.get("/v1/destinations", params=params, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["etag"] == plain.headers["etag"] == again.headers["etag"]
    revalidated = await client.get(
        "/v1/destinations", params=params, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["etag"]}
    )
    assert revalidated.status_code == 304


async def test_response_cache_is_keyed_by_locale(client: httpx.AsyncClient, app: Litestar) -> None:
    store = app.stores.get("response_cache")
    await store.delete_all()
    english = await client.get("/v1/destinations/fansipan", headers={"Accept-Language": "en"})
    vietnamese = await client.get("/v1/destinations/fansipan", headers={"Accept-Language": "vi"})
    cached_english = await client.get("/v1/destinations/fansipan", headers={"Accept-Language": "en"})
    assert (english.json()["name"], vietnamese.json()["name"]) == ("Fansipan", "Phan Xi Păng")
    assert cached_english.json() == english.json()
    assert cached_english.headers["content-language"] == "en"
    assert cached_english.headers["etag"] == english.headers["etag"]
    assert await store.exists("en|GET/v1/destinations/fansipan?")
    assert await store.exists("vi|GET/v1/destinations/fansipan?")
    # An invalid ?lang= is never answered from the cache.
    assert (await client.get("/v1/destinations/fansipan", params={"lang": "xx"})).status_code == 422


async def test_catalogue_import_clears_the_shared_response_cache(app: Litestar, settings: Settings) -> None:
    store = app.stores.get("response_cache")
    await store.set("vi|GET/v1/destinations/cat-cat", b"stale", expires_in=60)
    await clear_response_cache(settings.redis_url)
    if settings.redis_url:
        assert not await store.exists("vi|GET/v1/destinations/cat-cat")
    else:  # in-process store: nothing to clear from outside; entries expire by themselves
        assert await store.exists("vi|GET/v1/destinations/cat-cat")
        await store.delete_all()


async def test_refused_gzip_is_not_sent_and_304_keeps_vary(client: httpx.AsyncClient) -> None:
    params = SA_PA_RADIUS
    refused = await client.get("/v1/destinations", params=params, headers={"Accept-Encoding": "gzip;q=0, *"})
    assert "content-encoding" not in refused.headers
    anything = await client.get("/v1/destinations", params=params, headers={"Accept-Encoding": "br;q=0.5, *"})
    assert anything.headers["content-encoding"] == "gzip"
    not_modified = await client.get(
        "/v1/destinations", params=params, headers={"If-None-Match": refused.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert "Accept-Encoding" in not_modified.headers["vary"]


async def test_undeclared_query_parameters_share_one_cache_entry(client: httpx.AsyncClient, app: Litestar) -> None:
    store = app.stores.get("response_cache")
    await store.delete_all()
    for junk in ("1", "2", "3"):
        assert (await client.get("/v1/destinations/cat-cat", params={"x": junk})).status_code == 200
    assert await store.exists("vi|GET/v1/destinations/cat-cat?")
    assert not await store.exists("vi|GET/v1/destinations/cat-cat?x=1")
    await client.get("/v1/destinations", params={"kind": ["peak", "lake"], "limit": 5, "junk": "y"})
    assert await store.exists("vi|GET/v1/destinations?kind=peak&kind=lake&limit=5")


async def test_catalogue_is_served_while_redis_is_down(database_url: str, tmp_path: Path) -> None:
    # Nothing listens on port 1: every Redis call fails at once.
    down = Settings(database_url=database_url, redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    application = create_app(down)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as http:
            assert (await http.get("/v1/destinations/cat-cat")).status_code == 200
            assert (await http.get("/v1/destinations/cat-cat")).status_code == 200
            ready = await http.get("/health/ready")
            assert ready.status_code == 503
            assert "redis" in ready.json()["detail"]
    finally:
        for hook in application.on_shutdown:
            await hook(application)  # type: ignore[call-arg,misc]
    assert await clear_response_cache("redis://127.0.0.1:1/0") is False


async def test_overlong_lang_is_a_422_that_does_not_echo_it_whole(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/communes", params={"lang": "en-" + "a" * 5000})
    assert response.status_code == 422
    assert len(response.json()["detail"]) < 200


def test_access_lines_redact_ical_secrets() -> None:
    import logging

    from src.kernel.logs import SecretPathFilter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', None, None)
    record.args = ("127.0.0.1:5000", "GET", "/v1/ical/s3cr3tT0ken.ics?x=1", "1.1", 200)
    assert SecretPathFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /v1/ical/[redacted]?x=1 HTTP/1.1" 200'
    other = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s %s %s", ("a", "GET", "/v1/x"), None)
    assert SecretPathFilter().filter(other)
    assert other.getMessage() == "a GET /v1/x"
