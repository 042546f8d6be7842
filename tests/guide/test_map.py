"""GET /v1/map/features: an RFC 7946 FeatureCollection."""

import httpx

SA_PA_BBOX = "103.75,22.28,103.90,22.40"


async def test_feature_collection_is_valid_geojson(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/map/features", params={"bbox": SA_PA_BBOX})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert collection["truncated"] is False
    features = collection["features"]
    assert features
    for feature in features:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]  # RFC 7946 §3.1.1: longitude first
        assert 103.75 <= lon <= 103.90
        assert 22.28 <= lat <= 22.40
        assert isinstance(feature["id"], str)
        assert feature["properties"]["slug"] == feature["id"]
    ids = [f["id"] for f in features]
    assert "fansipan" in ids
    assert "cat-cat" in ids
    assert len(ids) == len(set(ids))


async def test_limit_truncates_and_keeps_landmarks_first(client: httpx.AsyncClient) -> None:
    collection = (await client.get("/v1/map/features", params={"bbox": SA_PA_BBOX, "limit": 3})).json()
    assert collection["truncated"] is True
    assert len(collection["features"]) == 3
    assert collection["features"][0]["properties"]["kind"] == "destination"


async def test_kind_filter(client: httpx.AsyncClient) -> None:
    collection = (await client.get("/v1/map/features", params={"bbox": SA_PA_BBOX, "kind": "peak"})).json()
    assert {f["properties"]["kind"] for f in collection["features"]} == {"peak"}


async def test_whole_province_fits_under_the_maximum(client: httpx.AsyncClient) -> None:
    collection = (await client.get("/v1/map/features", params={"bbox": "103,21,106,23", "limit": 5000})).json()
    assert collection["truncated"] is False
    assert len(collection["features"]) > 2000
