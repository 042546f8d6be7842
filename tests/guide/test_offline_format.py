"""The offline pack archive format (``src/guide/offline.py``): reproducible bytes, versions, deltas."""

import zipfile

import pytest

from src.guide.offline import PackItem, build_archive, delta, item_index, pack_version, read_archive

AREA = {"kind": "commune", "id": "03006"}


def items(title: str = "Sa Pa") -> list[PackItem]:
    return [
        PackItem(
            "place",
            "place:sa-pa",
            {
                "type": "Feature",
                "id": "sa-pa",
                "geometry": {"type": "Point", "coordinates": [103.84415, 22.34023]},
                "properties": {"name": title, "name_locale": "vi"},
            },
        ),
        PackItem("article", "article:a", {"key": "article:a", "title": "Tả Van", "title_locale": "vi"}),
        PackItem("media", "media:m1", {"key": "media:m1", "url": "/v1/media/m1", "sha256": "0" * 64, "size": 3}),
    ]


def archive(content: list[PackItem], **kwargs: object) -> bytes:
    index = item_index(content)
    return build_archive(area=AREA, locale="en", version=pack_version("03006", "en", index), items=content, **kwargs)  # type: ignore[arg-type]


def test_same_content_same_bytes_whatever_the_order() -> None:
    first = archive(items())
    assert archive(list(reversed(items()))) == first
    members = read_archive(first)
    assert list(members) == [
        "manifest.json",
        "places.geojson",
        "routes.geojson",
        "articles.json",
        "tours.json",
        "events.json",
        "alerts.json",
    ]
    assert members["places.geojson"]["features"][0]["geometry"]["coordinates"] == [103.84415, 22.34023]
    assert members["manifest.json"]["media"] == [dict(items()[2].body)]
    with zipfile.ZipFile(__import__("io").BytesIO(first)) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert z.testzip() is None


def test_a_change_moves_the_version_and_the_delta_holds_only_it() -> None:
    before, after = item_index(items()), item_index(items("Sa Pa (edited)")[:2])
    assert pack_version("03006", "en", before) != pack_version("03006", "en", after)
    assert pack_version("03006", "en", before) != pack_version("03006", "vi", before)
    change = delta(before, after)
    assert change.changed == {"place:sa-pa"}
    assert change.removed == ("media:m1",)
    content = items("Sa Pa (edited)")[:2]
    members = read_archive(archive(content, since="v0", removed=change.removed, only=change.changed))
    assert [f["id"] for f in members["places.geojson"]["features"]] == ["sa-pa"]
    assert members["articles.json"]["items"] == []
    assert members["manifest.json"]["removed"] == ["media:m1"]
    assert members["manifest.json"]["since"] == "v0"


def test_keys_are_unique_and_collections_known() -> None:
    with pytest.raises(ValueError, match="key"):
        item_index([items()[1], items()[1]])
    with pytest.raises(ValueError, match="collection"):
        PackItem("nope", "x", {})
