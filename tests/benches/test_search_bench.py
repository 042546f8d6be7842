"""The parts of ``benches/search.py`` that decide what is measured: synthetic rows, query mixes, wrk scripts and
the reading of wrk's output. (The benchmark itself is not run here: ``uv run python benches/search.py --quick``.)"""

import unicodedata
from urllib.parse import parse_qsl, urlsplit

import pytest

from benches.search import parse_wrk
from benches.search_data import (
    SEARCH_PATH,
    SUGGEST_PATH,
    SYNTHETIC_PREFIX,
    CatalogueFacts,
    build_mixes,
    check_bench_database,
    lua_script,
    synthetic_rows,
)

FACTS = CatalogueFacts(
    kinds={"village": 80, "stream": 15, "mountain_pass": 5},
    communes=[("02647", 22.50639, 104.005), ("03046", 22.3364, 103.8438)],
    names=[("Cát Cát", "village", "03046"), ("Ô Quy Hồ", "mountain_pass", "03046"), ("Suối Hồ", "stream", None)],
    former_names=["Phường Cốc Lếu", "Xã Tả Van"],
    bbox=(21.3259, 22.8449, 103.5308, 105.1004),
)


def test_synthetic_rows_are_deterministic_bench_only_and_inside_the_province() -> None:
    rows = synthetic_rows(FACTS, 500, seed=6)
    assert rows == synthetic_rows(FACTS, 500, seed=6)
    assert rows != synthetic_rows(FACTS, 500, seed=7)
    assert len({row.slug for row in rows}) == 500
    min_lat, max_lat, min_lon, max_lon = FACTS.bbox
    for row in rows:
        assert row.slug.startswith(SYNTHETIC_PREFIX)
        assert min_lat <= row.lat <= max_lat
        assert min_lon <= row.lon <= max_lon
        assert row.commune_code in {"02647", "03046"}
        assert row.kind in FACTS.kinds
    assert {row.kind for row in rows} == set(FACTS.kinds)


def test_only_a_bench_postgresql_database_takes_synthetic_rows() -> None:
    check_bench_database("postgresql+asyncpg://postgres@127.0.0.1:5432/laocai_bench_search")
    check_bench_database("sqlite+aiosqlite:////tmp/laocai-bench-search-x/sqlite/laocai.sqlite3")
    with pytest.raises(ValueError, match="bench"):
        check_bench_database("postgresql+asyncpg://postgres@127.0.0.1:5432/laocai")


def test_every_query_sends_the_api_what_the_engine_is_asked() -> None:
    rows = synthetic_rows(FACTS, 300, seed=6)
    mixes = build_mixes(FACTS, rows, seed=6, size=100)
    assert [len(mixes[m]) for m in ("text", "text+point", "filters", "suggest")] == [100, 100, 100, 100]
    for mix, queries in mixes.items():
        assert len({q.path for q in queries}) == len(queries), mix
        for query in queries:
            url = urlsplit(query.path)
            params = dict(parse_qsl(url.query))
            assert params == query.params
            if mix == "suggest":
                assert url.path == SUGGEST_PATH
                assert query.prefix == params["q"]
                assert query.query is None
                continue
            assert url.path == SEARCH_PATH
            assert query.query is not None
            assert query.query.text == unicodedata.normalize("NFC", params["q"])
            if mix == "text+point":
                assert query.query.near is not None
                assert query.query.near.lat == float(params["lat"])
                assert query.query.near.lon == float(params["lon"])
                if "radius_km" in params:
                    assert query.query.radius_m == float(params["radius_km"]) * 1000
                else:
                    assert params["sort"] == "distance" == query.query.sort
            if mix == "filters":
                assert query.query.kinds == {params["kind"]}
                assert query.query.communes == {params["commune"]}
                assert query.query.facets == set(params["facets"].split(","))
    texts = {q.params["q"] for q in mixes["text"]}
    assert {"fansipn", "fansi", "sapa", "sa pa", "沙坝", "사파", unicodedata.normalize("NFD", "Bắc Hà")} <= texts


def test_the_wrk_script_cycles_encoded_paths_and_refuses_raw_text() -> None:
    script = lua_script(["/v1/search?q=sa%20pa", "/v1/search?q=c%C3%A1t"])
    assert '"/v1/search?q=sa%20pa",\n  "/v1/search?q=c%C3%A1t"' in script
    assert "latency:percentile(95)" in script
    for bad in ("/v1/search?q=cát", '/v1/search?q="', "/v1/search?q=\\"):
        with pytest.raises(ValueError, match="percent-encoded"):
            lua_script([bad])


WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:40000
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.90ms    2.11ms  24.13ms   71.20%
  Latency Distribution
     50%    3.69ms
     99%   10.82ms
  9821 requests in 10.00s, 11.02MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    982.10
BENCH-LATENCY 3690 6110 8010 10820 24135 3901.2
"""


def test_wrk_output_is_read_with_the_scripts_percentiles_and_every_failure() -> None:
    run = parse_wrk(WRK_OUTPUT, server_cpu_s=9.63)
    assert (run.requests, run.errors, run.seconds) == (9821, 7, 10.0)
    assert (run.p50_ms, run.p95_ms, run.p99_ms, run.max_ms) == (3.69, 8.01, 10.82, 24.135)
    assert run.rps == pytest.approx(982.1)
    assert run.us_per_request == pytest.approx(9.63 / 9821 * 1e6)
