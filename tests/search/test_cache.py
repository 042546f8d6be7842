"""The result cache: bounded, expiring, keyed by the index generation so an edit is never hidden behind it."""

import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from litestar import Litestar

from src.app import create_app
from src.search.cache import ResultCache
from src.search.port import SearchDocument
from tests.search.support import app_settings, build_index, client_of, lifespan


def test_entries_expire_and_the_least_recently_used_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: ResultCache[str] = ResultCache(ttl_seconds=5, max_entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # "a" is now the most recently used
    cache.put("c", "C")
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == ("A", "C")
    now[0] += 5.01
    assert cache.get("a") is None
    assert len(cache) == 1
    off: ResultCache[str] = ResultCache(ttl_seconds=0)
    off.put("a", "A")
    assert off.get("a") is None
    assert not off.enabled


@pytest.fixture(scope="module")
async def cached_app(
    backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Litestar]:
    settings = app_settings(backend, database_url, tmp_path_factory.mktemp("cache"), search_cache_seconds=300)
    app = create_app(settings)
    async with lifespan(app):
        await build_index(app)
        yield app


async def test_a_commit_to_the_index_bypasses_cached_pages(
    cached_app: Litestar, catalogue_documents: list[SearchDocument]
) -> None:
    async with client_of(cached_app) as http:
        first = (await http.get("/v1/search", params={"q": "cat cat", "limit": 3})).json()
        again = (await http.get("/v1/search", params={"q": "cat cat", "limit": 3})).json()
        assert [h["id"] for h in first["hits"]] == [h["id"] for h in again["hits"]]
        cache = cached_app.state.search_cache
        assert cache.hits >= 1
        cat_cat = next(d for d in catalogue_documents if d.ref == "cat-cat")
        await cached_app.state.search_engine.upsert([replace(cat_cat, names={**cat_cat.names, "vi": "Cát Cát Mới"})])
        fresh = (await http.get("/v1/search", params={"q": "cat cat", "limit": 3})).json()
        assert fresh["hits"][0]["name"] == "Cát Cát Mới"  # a new generation: not the cached page
        await cached_app.state.search_engine.upsert([cat_cat])
        restored = (await http.get("/v1/search", params={"q": "cat cat", "limit": 3})).json()
        assert restored["hits"][0]["name"] == "Cát Cát"


async def test_pages_differ_by_every_parameter_and_locale(cached_app: Litestar) -> None:
    async with client_of(cached_app) as http:
        vi = (await http.get("/v1/search", params={"q": "sa pa", "limit": 1, "lang": "vi"})).json()
        zh = (await http.get("/v1/search", params={"q": "sa pa", "limit": 1, "lang": "zh-Hans"})).json()
        assert (vi["hits"][0]["name"], zh["hits"][0]["name"]) == ("Sa Pa", "沙坝")
        near = (await http.get("/v1/search", params={"q": "sa pa", "limit": 1, "lat": 22.3, "lon": 103.8})).json()
        assert "distance_m" in near["hits"][0]
        assert "distance_m" not in vi["hits"][0]
        one = (await http.get("/v1/search/suggest", params={"q": "sa", "limit": 1})).json()
        five = (await http.get("/v1/search/suggest", params={"q": "sa", "limit": 5})).json()
        assert (len(one["hits"]), len(five["hits"])) == (1, 5)
