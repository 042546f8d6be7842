"""The embedded engine's own guarantees: several processes on one folder, one writer at a time, atomic rebuilds."""

import asyncio
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from src.search.port import EngineUnavailable, SearchDocument, SearchQuery
from src.search.tantivy_engine import TantivyEngine
from src.search.text import analyse


async def _refs(engine: TantivyEngine, text: str) -> list[str]:
    return [hit.document.ref for hit in (await engine.search(SearchQuery(text=text, limit=5))).hits]


async def test_a_second_reader_sees_a_commit_within_its_reload_interval(
    catalogue_documents: list[SearchDocument], tmp_path: Path
) -> None:
    writer = TantivyEngine(tmp_path, reload_seconds=0.05)
    reader = TantivyEngine(tmp_path, reload_seconds=0.2)
    await writer.rebuild(catalogue_documents)
    assert await _refs(reader, "cat cat") == (await _refs(writer, "cat cat"))
    cat_cat = next(d for d in catalogue_documents if d.ref == "cat-cat")
    await writer.upsert([replace(cat_cat, names={**cat_cat.names, "vi": "Cát Cát Qwertzy"})])
    deadline = time.monotonic() + 5
    found: list[str] = []
    while time.monotonic() < deadline and found != ["cat-cat"]:
        await asyncio.sleep(0.05)
        found = await _refs(reader, "qwertzy")
    assert found == ["cat-cat"]


def test_a_reader_in_another_process_sees_a_commit(catalogue_documents: list[SearchDocument], tmp_path: Path) -> None:
    asyncio.run(TantivyEngine(tmp_path).rebuild(catalogue_documents))
    script = textwrap.dedent(
        f"""
        import asyncio, sys, time
        from pathlib import Path
        from src.search.port import SearchQuery
        from src.search.tantivy_engine import TantivyEngine
        async def main():
            engine = TantivyEngine(Path({str(tmp_path)!r}), reload_seconds=0.1)
            print("ready", flush=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                result = await engine.search(SearchQuery(text="plughxyzzy", limit=1))
                if result.hits:
                    print(result.hits[0].document.ref, flush=True)
                    return
                await asyncio.sleep(0.05)
            print("timeout", flush=True)
        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd())
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    cat_cat = next(d for d in catalogue_documents if d.ref == "cat-cat")
    asyncio.run(TantivyEngine(tmp_path).upsert([replace(cat_cat, aliases=(*cat_cat.aliases, "Plughxyzzy"))]))
    out, _ = process.communicate(timeout=20)
    assert out.strip() == "cat-cat"


async def test_concurrent_writers_from_two_instances_both_land(
    catalogue_documents: list[SearchDocument], tmp_path: Path
) -> None:
    one, two = TantivyEngine(tmp_path), TantivyEngine(tmp_path)
    await one.rebuild(catalogue_documents)
    by_ref = {d.ref: d for d in catalogue_documents}
    edits_one = [replace(by_ref["cat-cat"], aliases=("Alphaone",))]
    edits_two = [replace(by_ref["sa-pa"], aliases=(*by_ref["sa-pa"].aliases, "Betatwo"))]
    await asyncio.gather(one.upsert(edits_one), two.upsert(edits_two), one.upsert(edits_one), two.upsert(edits_two))
    fresh = TantivyEngine(tmp_path)
    assert await _refs(fresh, "alphaone") == ["cat-cat"]
    assert await _refs(fresh, "betatwo") == ["sa-pa"]
    assert (await fresh.search(SearchQuery(limit=1))).estimated_total == len(catalogue_documents)


async def test_a_rebuild_is_one_commit(catalogue_documents: list[SearchDocument], tmp_path: Path) -> None:
    engine = TantivyEngine(tmp_path, reload_seconds=0.01)
    await engine.rebuild(catalogue_documents)
    reader = TantivyEngine(tmp_path, reload_seconds=0.0)
    counts: set[int] = set()
    rebuild = asyncio.create_task(engine.rebuild(list(reversed(catalogue_documents))))
    while not rebuild.done():
        counts.add((await reader.search(SearchQuery(limit=1))).estimated_total)
        await asyncio.sleep(0.005)
    await rebuild
    counts.add((await reader.search(SearchQuery(limit=1))).estimated_total)
    assert counts == {len(catalogue_documents)}


async def test_an_unusable_folder_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "search"
    blocker.write_text("a file where the index folder should be")
    engine = TantivyEngine(blocker)
    with pytest.raises(EngineUnavailable):
        await engine.search(SearchQuery(text="sa pa"))
    with pytest.raises(EngineUnavailable):
        await engine.ping()
    with pytest.raises(EngineUnavailable):
        await engine.upsert([_ANY_DOCUMENT])


_ANY_DOCUMENT = SearchDocument(
    key="destination-x",
    type="destination",
    ref="x",
    kind="village",
    commune_code=None,
    names={"vi": "X"},
    aliases=(),
    former_names=(),
    commune_names={},
    commune_unit_type=None,
    lat=22.0,
    lon=104.0,
    importance=0.1,
)


def test_analysis_folds_the_forms_users_send() -> None:
    assert analyse("Đèo Ô Quy Hồ").words == ("deo", "o", "quy", "ho")
    assert analyse("ＳＡＰＡ").compact == "sapa"
    assert analyse("沙坝 Sa Pa").cjk == ("沙坝",)
    assert analyse("사파").cjk == ("사파",)  # Hangul survives the decomposition that strips marks
    assert analyse("Sa\u0300 Pa\u0309") == analyse("Sà Pả")


async def test_an_index_never_rebuilt_is_not_served(catalogue_documents: list[SearchDocument], tmp_path: Path) -> None:
    # A breaker removed a blocked index folder while the server ran: the new, empty index answered 200 with no hits.
    engine = TantivyEngine(tmp_path, reload_seconds=0.0)
    with pytest.raises(EngineUnavailable, match="not been built"):
        await engine.search(SearchQuery(text="sa pa"))
    await engine.upsert(catalogue_documents[:1])  # a job's upsert does not make a whole index
    with pytest.raises(EngineUnavailable):
        await engine.ping()
    await engine.rebuild(catalogue_documents)
    assert await engine.fingerprint() is None  # built, but no fingerprint yet: stale until the caller stores it
    assert (await engine.search(SearchQuery(limit=1))).estimated_total == len(catalogue_documents)
    assert await TantivyEngine(tmp_path).ping() is None
