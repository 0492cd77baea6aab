"""Known points land in the right county on every path: the in-process index, PostGIS
(ST_Covers over geo_divisions) and the HTTP endpoint; and the map-data routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from command_center import errors
from command_center.routes import geo as geo_routes
from gis.service import GeoService
from infra.runtime import Runtime
from infra.settings import Settings
from streams.domain import Jurisdiction

ZHUOZHOU = (115.974, 39.486)
SHIJIAZHUANG = (114.5149, 38.0423)
OUTSIDE = [
    (116.397, 39.909),  # Beijing, Tiananmen
    (117.200, 39.084),  # Tianjin
    (121.47, 31.23),  # Shanghai
    (0.0, 0.0),
    (-74.0, 40.7),
]


def _check_known(lookup: object) -> None:
    assert callable(lookup)
    zhuozhou = lookup(*ZHUOZHOU)
    assert zhuozhou == Jurisdiction("130000", "130600", "130681")
    shijiazhuang = lookup(*SHIJIAZHUANG)
    assert shijiazhuang.city == "130100" and shijiazhuang.county.startswith("1301")
    for point in OUTSIDE:
        assert lookup(*point) == Jurisdiction()


def test_known_points_in_process(geo_sqlite: GeoService) -> None:
    _check_known(geo_sqlite.lookup)
    assert geo_sqlite.division_name("130681") == "涿州市"
    assert geo_sqlite.division_name("999999") is None


def test_known_points_on_postgis(geo_postgis: GeoService) -> None:
    _check_known(geo_postgis.lookup_in_database)
    _check_known(geo_postgis.lookup)


def test_lookup_many_matches_database_on_border_points(geo_postgis: GeoService) -> None:
    # Vertices of county borders: exactly on a shared border, both must pick the lower adcode.
    leaf = geo_postgis.hierarchy.by_code["130681"]
    coords = list(leaf.geometry.geoms[0].exterior.coords)[::97]
    answers = geo_postgis.lookup_many([c[0] for c in coords], [c[1] for c in coords])
    for (lon, lat), answer in zip(coords, answers, strict=True):
        assert answer == geo_postgis.lookup_in_database(lon, lat)
        assert answer.county is not None and answer.county <= "130681"


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp(f"api-{request.param}")
    url = (
        request.getfixturevalue("gis_postgis_url")
        if request.param == "postgis"
        else f"sqlite:///{Path(data) / 'api.sqlite3'}"
    )
    runtime = Runtime.open(Settings(database_url=url, data_dir=data))
    app = FastAPI()
    errors.install(app)
    app.include_router(geo_routes.router)
    app.state.runtime = runtime
    with TestClient(app) as test_client:
        test_client.headers["x-backend"] = request.param
        yield test_client
    runtime.close()


def test_lookup_endpoint(client: TestClient) -> None:
    answer = client.get("/api/v1/geo/lookup", params={"lon": ZHUOZHOU[0], "lat": ZHUOZHOU[1]})
    assert answer.status_code == 200
    assert answer.json() == {
        "province": {"adcode": "130000", "name": "河北省"},
        "city": {"adcode": "130600", "name": "保定市"},
        "county": {"adcode": "130681", "name": "涿州市"},
    }
    city = client.get("/api/v1/geo/lookup?lon=114.5149&lat=38.0423").json()["county"]
    assert city["adcode"].startswith("1301")
    for lon, lat in OUTSIDE:
        body = client.get("/api/v1/geo/lookup", params={"lon": lon, "lat": lat}).json()
        assert body == {"province": None, "city": None, "county": None}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "lon=115",
        "lon=abc&lat=39",
        "lon=nan&lat=39",
        "lon=115&lat=inf",
        "lon=181&lat=39",
        "lon=115&lat=-90.5",
        "lon=&lat=",
    ],
)
def test_bad_lookup_parameters_are_422(client: TestClient, query: str) -> None:
    answer = client.get(f"/api/v1/geo/lookup?{query}")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_failed"


@pytest.mark.parametrize(
    "layer",
    [
        "provinces",
        "cities",
        "counties",
        "rivers",
        "hospitals",
        "flood_zones",
        "hazard_buffers",
        "warning_areas",
    ],
)
def test_layers_as_geojson_with_etag(client: TestClient, layer: str) -> None:
    first = client.get(f"/api/v1/geo/layers/{layer}.geojson?zoom=6")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/geo+json")
    assert "max-age" in first.headers["cache-control"]
    assert first.headers["content-encoding"] == "gzip"  # the client accepts it; body decodes
    body = first.json()
    assert body["type"] == "FeatureCollection"
    expected = {"provinces": 1, "cities": 11, "counties": 167}.get(layer)
    if expected is not None:
        assert len(body["features"]) == expected
        assert {"adcode", "name", "level"} <= set(body["features"][0]["properties"])
    etag = first.headers["etag"]
    again = client.get(
        f"/api/v1/geo/layers/{layer}.geojson?zoom=7", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["etag"] == etag
    other_band = client.get(
        f"/api/v1/geo/layers/{layer}.geojson?zoom=12", headers={"If-None-Match": etag}
    )
    assert other_band.status_code == 200 and other_band.headers["etag"] != etag


def test_coarser_zoom_is_smaller(client: TestClient) -> None:
    plain = {"Accept-Encoding": "identity"}
    coarse = client.get("/api/v1/geo/layers/counties.geojson?zoom=5", headers=plain)
    fine = client.get("/api/v1/geo/layers/counties.geojson?zoom=14", headers=plain)
    assert "content-encoding" not in coarse.headers
    assert len(coarse.content) * 10 < len(fine.content)


def test_unknown_layer_and_bad_zoom(client: TestClient) -> None:
    assert client.get("/api/v1/geo/layers/nope.geojson").status_code == 404
    assert client.get("/api/v1/geo/layers/counties.geojson?zoom=99").status_code == 422
    listing = client.get("/api/v1/geo/layers").json()["items"]
    assert {"counties", "hospitals", "units"} - {item["name"] for item in listing} == {"units"}


def test_tiles(client: TestClient) -> None:
    answer = client.get("/api/v1/geo/tiles/counties/7/104/48.mvt")
    if client.headers["x-backend"] == "sqlite":
        assert answer.status_code == 404
        assert "geojson" in answer.json()["error"]["message"]
        return
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert len(answer.content) > 1000 and b"counties" in answer.content
    cached = client.get(
        "/api/v1/geo/tiles/counties/7/104/48.mvt", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert cached.status_code == 304
    assert client.get("/api/v1/geo/tiles/counties/3/9/0.mvt").status_code == 422


def test_spatial_routes(client: TestClient) -> None:
    near = client.get(
        "/api/v1/geo/units/nearest",
        params={"lon": 115.48, "lat": 38.87, "types": "ambulance", "k": 2},
    ).json()
    assert [item["type"] for item in near["items"]] == ["ambulance", "ambulance"]
    assert near["items"][0]["distance_m"] <= near["items"][1]["distance_m"]
    facilities = client.get(
        "/api/v1/geo/facilities", params={"lon": 115.48, "lat": 38.87, "distance_m": 3000}
    ).json()
    assert {f["properties"]["name"] for f in facilities["items"]} >= {"保定市人民医院（示例）"}
    zones = client.get("/api/v1/geo/zones", params={"lon": 115.95, "lat": 38.93}).json()
    assert "白洋淀" in [z["properties"]["name"] for z in zones["items"]]
    exposure = client.post(
        "/api/v1/geo/exposure",
        json={"geometry": {"type": "Point", "coordinates": [115.48, 38.87]}, "radius_m": 20000},
    )
    assert exposure.status_code == 200 and exposure.json()["population"] >= 1_000_000
    assert (
        client.post(
            "/api/v1/geo/exposure",
            json={"geometry": {"type": "Point", "coordinates": [115.48, 38.87]}},
        ).status_code
        == 422
    )
