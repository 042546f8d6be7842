"""Data of ``benches/search.py``: 10,000 synthetic destinations for the bench database, and the query mixes.

Both are deterministic: the same ``seed`` and the same catalogue give the same rows and the same queries, in the
same order. Nothing here writes anywhere but the database URL it is given (the benchmark's own temporary SQLite file
or a PostgreSQL database whose name contains ``bench``, checked by :func:`check_bench_database`).

Synthetic destinations look like the real catalogue: kinds drawn from the real kind distribution, names composed of
real Vietnamese place-name syllables with the head word a kind implies ("Suối" for a stream, "Đèo" for a pass,
"Bản"/"Thôn" or none for a village), a point near a real 2025 commune's representative point and linked to that
commune, a ``vi`` translation as most real rows have, and for about a quarter of them one or two alternate names
(unaccented or respelled, as GeoNames alternates are). Slugs are ``bench-synthetic-<n>-<folded name>`` and
``source`` is ``bench-synthetic``, so they can never be taken for (or collide with) shipped rows.

Query mixes (:class:`BenchQuery`, each both an HTTP path and the :class:`~src.search.port.SearchQuery` the API builds
from it, so the API and the raw engine run the very same searches):

- ``text``: ``/v1/search?q=...``: the curated cases of issue 6 (unaccented, joined/split, typos, prefixes, CJK,
  former names, NFD) and names sampled from the catalogue and from the synthetic rows, each in one of the ways
  tourists type them (as written, without tone marks, lower case, with one typo, half-typed, first word only);
- ``text+point``: the same kinds of text plus a point within about 2 km of Sa Pa town (22.3364, 103.8438), with
  ``sort=distance`` or a ``radius_km`` of 5-30 km;
- ``filters``: a word of a destination's name with ``kind`` and ``commune`` of that destination and
  ``facets=kind,commune``;
- ``suggest``: ``/v1/search/suggest?q=<prefix>``: the first 2-8 characters of names, CJK first characters included.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlencode

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel import col

from src.guide.models import Commune, CommuneFormerUnit, Destination, DestinationAlias, DestinationTranslation
from src.guide.names import fold
from src.kernel.db import utcnow
from src.search.port import GeoPoint, SearchQuery
from src.search.text import normalise

SYNTHETIC_PREFIX = "bench-synthetic-"
SYNTHETIC_SOURCE = "bench-synthetic"
SEARCH_PATH = "/v1/search"
SUGGEST_PATH = "/v1/search/suggest"
#: Defaults of the API (src/search/controllers.py): page size of /v1/search and of /suggest.
SEARCH_LIMIT = 20
SUGGEST_LIMIT = 5
#: The locale the API negotiates when the client sends no Accept-Language (src/kernel/i18n.py).
LOCALE = "vi"
SA_PA = GeoPoint(lat=22.3364, lon=103.8438)
#: Sa Pa town's commune-level unit (for the filter mix's brute-force sanity check, not used in queries).
MIXES = ("text", "text+point", "filters", "suggest")
Mix = Literal["text", "text+point", "filters", "suggest"]

#: Real syllables of place names in the province (Vietnamese spellings of Kinh, Hmong, Dao, Tày, Giáy names).
SYLLABLES = (
    "Nậm", "Tả", "Phìn", "Sín", "Chải", "Lùng", "Van", "Hồ", "Mường", "Pà", "Cốc", "Tòng", "Xá", "Cán", "Sảng",
    "Pả", "Khâu", "Thàng", "Chư", "Tủng", "Lìn", "Ngài", "Si", "Ma", "Hầu", "Thèn", "Tà", "Giàng", "Páo", "Lao",
    "Séo", "Mý", "Sử", "Pìn", "Tân", "Hoàng", "Liên", "Dền", "Thào", "Cát", "Nhìu", "Sán", "Chá", "Trung", "Đông",
    "Tây", "Nà", "Khe", "Đồng", "Minh", "Phúc", "Yên", "Hà", "Sơn", "Thượng", "Hạ", "Xuân", "Bảo", "Khánh", "Lục",
    "Vành", "Pho", "Cang", "Mán", "Lử", "Ngải", "Thầu", "Lếch", "Mông", "Phố", "Hòa", "Lương", "Quang",
    "Kim", "Thanh", "Bình", "Suối", "Nghĩa", "Trạm", "Tấu", "Púng", "Luông", "Chế", "Cu", "Vai", "Chéng", "Dế",
    "Xu", "Phình", "Hồng", "Ca", "Già", "Mù", "Khum", "Hua", "Pắc", "Kéo", "Muông", "Lầu", "Thí", "Quy", "Ô",
)  # fmt: skip
#: Head words by kind (``""``: the bare composed name, as most real villages are).
HEADS: dict[str, tuple[str, ...]] = {
    "village": ("", "", "", "Bản", "Thôn", "Làng"),
    "stream": ("Suối", "Ngòi", "Nậm", "Khe"),
    "stream_section": ("Suối",),
    "mountain": ("Núi", "Đỉnh", "Pú", "Phu"),
    "peak": ("Đỉnh",),
    "hill": ("Đồi",),
    "hills": ("Đồi",),
    "mountain_range": ("Dãy",),
    "hotel": ("Khách sạn", "Homestay", "Nhà nghỉ"),
    "bridge": ("Cầu",),
    "mountain_pass": ("Đèo",),
    "lake": ("Hồ",),
    "market": ("Chợ",),
    "railway_station": ("Ga",),
    "town": ("Thị trấn",),
    "city": ("Thành phố",),
    "cave": ("Hang",),
    "dam": ("Đập",),
    "dock": ("Bến",),
    "ferry": ("Bến",),
    "rapids": ("Thác",),
}
#: Curated queries of issue 6 ("Done means") and what tourists type: unaccented, joined/split, typos, prefixes,
#: CJK and Korean, former names (old wards, districts, the former province), decomposed Unicode.
CURATED_TEXT = (
    "bac ha", "Bắc Hà", "sapa", "sa pa", "Sa Pa", "SAPA", "fansipn", "fansi", "fansipan", "phan xi pang",
    "Phan Xi Păng", "沙坝", "老街", "番西邦峰", "사파", "o quy ho", "Ô Quy Hồ", "deo o quy ho", "cat cat", "Cát Cát",
    "den mau", "lao cai", "Lào Cai", "yen bai", "Yên Bái", "mu cang chai", "Mù Cang Chải", "ta van", "ta phin",
    "lao chai", "ham rong", "y ty", "muong hum", "bat xat", "si ma cai", "can cau", "coc ly", "nghia lo",
    "tram tau", "bac ha market", "sapa market", "ga lao cai", "cau may", "thac bac", "ban ho", "ta giang phin",
    "phuong coc leu", "duyen hai", "pho lu", "thi tran sa pa", "huyen sa pa", "lao chai ta van", "khau pha",
    "tu le", "suoi giang", "van ban", "bao yen", "bao thang", "luc yen", "thac ba", "xin man", "muong khuong",
    "Fansipan", "fansipam", "fansipa", "sappa", "sa pa town", "bắc hà", "bac  ha", "Sa-Pa", "cat-cat village",
)  # fmt: skip
CURATED_SUGGEST = (
    "sa", "sap", "fan", "fans", "bac", "bac h", "cat", "ca", "lao", "lao c", "o q", "ô quy", "ta v", "ham", "y t",
    "沙", "老", "番", "사", "muo", "muong", "nam", "ban", "suoi", "thac", "deo", "cho", "ho ", "mu c", "nghia",
)  # fmt: skip


# ------------------------------------------------------------------------------------------------ synthetic rows


def check_bench_database(url: str) -> None:
    """Refuse a PostgreSQL database whose name does not contain ``bench`` (synthetic rows go only into a database
    that exists for benchmarks); SQLite URLs are the benchmark's own temporary file and pass."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and "bench" not in (parsed.database or ""):
        raise ValueError(f"refusing to write synthetic rows into {parsed.database!r}: its name must contain 'bench'")


@dataclass(frozen=True)
class CatalogueFacts:
    """What synthetic rows and queries are modelled on: the real catalogue of the bench database."""

    kinds: dict[str, int]
    communes: list[tuple[str, float, float]]  # (code, rep_lat, rep_lon)
    names: list[tuple[str, str, str | None]]  # (name, kind, commune_code) of real destinations, by slug
    former_names: list[str]
    bbox: tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon of the province


async def read_facts(connection: AsyncConnection) -> CatalogueFacts:
    """The real catalogue's facts (synthetic rows excluded), in a deterministic order."""
    real = ~col(Destination.slug).startswith(SYNTHETIC_PREFIX)
    kinds = {
        kind: int(count)
        for kind, count in (
            await connection.execute(
                select(col(Destination.kind), func.count())
                .where(real)
                .group_by(col(Destination.kind))
                .order_by(col(Destination.kind))
            )
        ).all()
    }
    communes = [
        (code, float(lat), float(lon))
        for code, lat, lon in (
            await connection.execute(
                select(col(Commune.code), col(Commune.rep_lat), col(Commune.rep_lon)).order_by(col(Commune.code))
            )
        ).all()
    ]
    names = [
        (name, kind, code)
        for name, kind, code in (
            await connection.execute(
                select(col(Destination.name), col(Destination.kind), col(Destination.commune_code))
                .where(real)
                .order_by(col(Destination.slug))
            )
        ).all()
    ]
    former = [
        name
        for (name,) in (
            await connection.execute(select(col(CommuneFormerUnit.old_name)).order_by(col(CommuneFormerUnit.old_code)))
        ).all()
    ]
    box = (
        await connection.execute(
            select(
                func.min(col(Commune.min_lat)),
                func.max(col(Commune.max_lat)),
                func.min(col(Commune.min_lon)),
                func.max(col(Commune.max_lon)),
            )
        )
    ).one()
    return CatalogueFacts(kinds, communes, names, former, (float(box[0]), float(box[1]), float(box[2]), float(box[3])))


@dataclass(frozen=True)
class SyntheticRow:
    """One synthetic destination: its row values, its ``vi`` translation and its alternate names."""

    slug: str
    kind: str
    name: str
    lat: float
    lon: float
    commune_code: str
    population: int | None
    aliases: tuple[str, ...]


def _compose(rng: random.Random, kind: str) -> str:
    words = [rng.choice(SYLLABLES) for _ in range(rng.choices((1, 2, 3), weights=(2, 6, 2))[0])]
    head = rng.choice(HEADS.get(kind, ("",)))
    if not head and len(words) == 1:
        words.append(rng.choice(SYLLABLES))
    return " ".join([head, *words] if head else words)


def _respelled(rng: random.Random, name: str) -> str:
    """A GeoNames-like alternate: the folded name title-cased, sometimes with two words joined."""
    words = fold(name).title().split()
    if len(words) >= 2 and rng.random() < 0.3:
        i = rng.randrange(len(words) - 1)
        words[i : i + 2] = [words[i] + words[i + 1].lower()]
    return " ".join(words)


def synthetic_rows(facts: CatalogueFacts, count: int, seed: int) -> list[SyntheticRow]:
    """``count`` synthetic destinations modelled on ``facts`` (deterministic for a given seed)."""
    rng = random.Random(seed)
    kinds = list(facts.kinds)
    weights = [facts.kinds[k] for k in kinds]
    min_lat, max_lat, min_lon, max_lon = facts.bbox
    rows: list[SyntheticRow] = []
    for n in range(count):
        kind = rng.choices(kinds, weights=weights)[0]
        name = _compose(rng, kind)
        code, rep_lat, rep_lon = rng.choice(facts.communes)
        lat = min(max(rep_lat + rng.uniform(-0.06, 0.06), min_lat), max_lat)
        lon = min(max(rep_lon + rng.uniform(-0.06, 0.06), min_lon), max_lon)
        population = rng.randint(80, 4000) if kind == "village" and rng.random() < 0.15 else None
        aliases: tuple[str, ...] = ()
        if rng.random() < 0.23:
            aliases = tuple(dict.fromkeys(_respelled(rng, name) for _ in range(rng.choice((1, 2)))))
        slug = f"{SYNTHETIC_PREFIX}{n:05d}-" + "-".join(fold(name).split())
        rows.append(SyntheticRow(slug, kind, name, round(lat, 5), round(lon, 5), code, population, aliases))
    return rows


async def insert_synthetic(connection: AsyncConnection, rows: Sequence[SyntheticRow]) -> None:
    """Replace every earlier synthetic row of this database by ``rows`` (destinations, translations, aliases)."""
    old_ids = select(col(Destination.id)).where(col(Destination.slug).startswith(SYNTHETIC_PREFIX))
    for table in (DestinationAlias, DestinationTranslation):
        await connection.execute(delete(table).where(col(table.destination_id).in_(old_ids)))
    await connection.execute(delete(Destination).where(col(Destination.slug).startswith(SYNTHETIC_PREFIX)))
    now = utcnow()
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        await connection.execute(
            insert(Destination),
            [
                {
                    "slug": row.slug,
                    "kind": row.kind,
                    "name": row.name,
                    "name_locale": "vi",
                    "name_folded": fold(row.name),
                    "lat": row.lat,
                    "lon": row.lon,
                    "population": row.population,
                    "commune_code": row.commune_code,
                    "coord_precision": "fine",
                    "in_province": True,
                    "source": SYNTHETIC_SOURCE,
                    "source_id": f"{SYNTHETIC_SOURCE}:{row.slug}",
                    "licence": "CC0-1.0",
                    "attribution": "synthetic benchmark data (benches/search_data.py)",
                    "quality_flags": [],
                    "possible_duplicates": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for row in chunk
            ],
        )
    ids = dict(
        (
            await connection.execute(
                select(col(Destination.slug), col(Destination.id)).where(
                    col(Destination.slug).startswith(SYNTHETIC_PREFIX)
                )
            )
        ).all()
    )
    translations = [
        {"destination_id": ids[row.slug], "locale": "vi", "name": row.name, "name_source": SYNTHETIC_SOURCE}
        for row in rows
    ]
    aliases = [
        {
            "destination_id": ids[row.slug],
            "alias": alias,
            "lang": "und",
            "alias_kind": "alternate",
            "folded": fold(alias),
            "evidence": SYNTHETIC_SOURCE,
        }
        for row in rows
        for alias in row.aliases
    ]
    for start in range(0, len(translations), 5000):
        await connection.execute(insert(DestinationTranslation), translations[start : start + 5000])
    for start in range(0, len(aliases), 5000):
        await connection.execute(insert(DestinationAlias), aliases[start : start + 5000])


async def add_synthetic(database_url: str, count: int, seed: int) -> tuple[CatalogueFacts, list[SyntheticRow]]:
    """Insert ``count`` synthetic destinations into the bench database at ``database_url`` (one transaction)."""
    check_bench_database(database_url)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            facts = await read_facts(connection)
            rows = synthetic_rows(facts, count, seed)
            await insert_synthetic(connection, rows)
    finally:
        await engine.dispose()
    return facts, rows


# ------------------------------------------------------------------------------------------------------ queries


@dataclass(frozen=True)
class BenchQuery:
    """One query of a mix: the request path the API gets, and the engine call the API makes for it."""

    mix: str
    path: str
    query: SearchQuery | None = None  # for /v1/search
    prefix: str = ""  # for /suggest
    params: dict[str, str] = field(default_factory=dict)


def _search(mix: str, params: dict[str, str], query: SearchQuery) -> BenchQuery:
    return BenchQuery(mix, f"{SEARCH_PATH}?{urlencode(params, quote_via=quote)}", query=query, params=params)


def _typo(rng: random.Random, word: str) -> str:
    """One edit (drop, double, swap or replace a letter) inside a word of 5+ letters."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    edit = rng.randrange(4)
    if edit == 0:
        return word[:i] + word[i + 1 :]
    if edit == 1:
        return word[:i] + word[i] + word[i:]
    if edit == 2:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    return word[:i] + rng.choice("aeiouyhnt") + word[i + 1 :]


def typed(rng: random.Random, name: str) -> str:
    """``name`` the way a tourist may type it: as written, folded, lower case, with a typo, half-typed, one word."""
    way = rng.randrange(6)
    folded = normalise(name)
    if way == 0:
        return name
    if way == 1:
        return folded
    if way == 2:
        return name.lower()
    if way == 3:
        words = folded.split()
        longest = max(range(len(words)), key=lambda i: len(words[i])) if words else 0
        if words and len(words[longest]) >= 5:
            words[longest] = _typo(rng, words[longest])
            return " ".join(words)
        return folded
    if way == 4:
        return folded[: max(3, len(folded) * 2 // 3)].rstrip()
    return folded.split()[0] if folded else name


def _names(facts: CatalogueFacts, synthetic: Sequence[SyntheticRow]) -> list[tuple[str, str, str | None]]:
    return [*facts.names, *((row.name, row.kind, row.commune_code) for row in synthetic)]


def text_queries(facts: CatalogueFacts, synthetic: Sequence[SyntheticRow], count: int, rng: random.Random) -> list[str]:
    """Distinct query texts: the curated ones, former names, then sampled catalogue and synthetic names as typed."""
    texts: dict[str, None] = dict.fromkeys(CURATED_TEXT)
    texts[unicodedata.normalize("NFD", "Bắc Hà")] = None
    texts[unicodedata.normalize("NFD", "Ô Quy Hồ")] = None
    for former in rng.sample(facts.former_names, min(25, len(facts.former_names))):
        texts[typed(rng, former) if rng.random() < 0.5 else former] = None
    real = [name for name, _kind, _code in facts.names]
    synth = [row.name for row in synthetic]
    while len(texts) < count:
        pool = real if rng.random() < 0.6 or not synth else synth
        text = typed(rng, rng.choice(pool)).strip()
        if text:
            texts[text] = None
    return list(texts)[:count]


def build_mixes(
    facts: CatalogueFacts, synthetic: Sequence[SyntheticRow], seed: int, size: int
) -> dict[str, list[BenchQuery]]:
    """The four query mixes, ``size`` distinct queries each (deterministic for a given seed and data)."""
    rng = random.Random(seed + 1)
    mixes: dict[str, list[BenchQuery]] = {}
    texts = text_queries(facts, synthetic, size, rng)
    mixes["text"] = [
        _search("text", {"q": q}, SearchQuery(text=unicodedata.normalize("NFC", q), limit=SEARCH_LIMIT, locale=LOCALE))
        for q in texts
    ]
    point: list[BenchQuery] = []
    point_texts = text_queries(facts, synthetic, size, random.Random(seed + 2))
    for i, q in enumerate(point_texts):
        lat = round(SA_PA.lat + rng.uniform(-0.02, 0.02), 5)
        lon = round(SA_PA.lon + rng.uniform(-0.02, 0.02), 5)
        params = {"q": q, "lat": f"{lat}", "lon": f"{lon}"}
        if i % 2 == 0:
            params["sort"] = "distance"
            query = SearchQuery(
                text=unicodedata.normalize("NFC", q),
                near=GeoPoint(lat, lon),
                sort="distance",
                limit=SEARCH_LIMIT,
                locale=LOCALE,
            )
        else:
            radius_km = rng.choice((5, 10, 15, 20, 30))
            params["radius_km"] = f"{radius_km}"
            query = SearchQuery(
                text=unicodedata.normalize("NFC", q),
                near=GeoPoint(lat, lon),
                radius_m=radius_km * 1000.0,
                limit=SEARCH_LIMIT,
                locale=LOCALE,
            )
        point.append(_search("text+point", params, query))
    mixes["text+point"] = point
    filters: dict[str, BenchQuery] = {}
    with_commune = [n for n in _names(facts, synthetic) if n[2]]
    while len(filters) < size:
        name, kind, code = rng.choice(with_commune)
        assert code is not None
        words = normalise(name).split()
        if not words:
            continue
        word = rng.choice(words)
        q = word if rng.random() < 0.7 else word[: max(2, len(word) - 1)]
        params = {"q": q, "kind": kind, "commune": code, "facets": "kind,commune"}
        query = SearchQuery(
            text=q,
            kinds=frozenset({kind}),
            communes=frozenset({code}),
            facets=frozenset({"kind", "commune"}),
            limit=SEARCH_LIMIT,
            locale=LOCALE,
        )
        filters.setdefault(_search("filters", params, query).path, _search("filters", params, query))
    mixes["filters"] = list(filters.values())
    prefixes: dict[str, None] = dict.fromkeys(CURATED_SUGGEST)
    names = _names(facts, synthetic)
    while len(prefixes) < size:
        name = rng.choice(names)[0]
        text = name if rng.random() < 0.3 else normalise(name)
        prefix = text[: rng.randint(2, 8)].rstrip()
        if prefix:
            prefixes[prefix] = None
    mixes["suggest"] = [
        BenchQuery("suggest", f"{SUGGEST_PATH}?{urlencode({'q': p}, quote_via=quote)}", prefix=p, params={"q": p})
        for p in list(prefixes)[:size]
    ]
    return mixes


def lua_script(paths: Sequence[str]) -> str:
    """A wrk script that cycles through ``paths`` (one per request, in order) and prints, when done, one line
    ``BENCH-LATENCY p50 p90 p95 p99 max mean`` (microseconds) from wrk's latency histogram."""
    for path in paths:
        if not path.isascii() or '"' in path or "\\" in path or "\n" in path:
            raise ValueError(f"not a percent-encoded path: {path!r}")
    body = ",\n".join(f'  "{path}"' for path in paths)
    return (
        f"local paths = {{\n{body}\n}}\n"
        "local n = #paths\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  if i > n then i = 1 end\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("BENCH-LATENCY %d %d %d %d %d %.1f\\n", latency:percentile(50),\n'
        "    latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))\n"
        "end\n"
    )
