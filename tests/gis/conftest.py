"""Fixtures of the gis tests: one geo service per backend, each on a database of its own.

The PostGIS database is created next to the session's ``postgis_url`` (same server, own name)
and dropped at the end, so the random units and features the property tests write never reach
the database other packages' tests share.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gis.divisions import Division, parse_divisions, read_geojson
from gis.loaders import BUNDLED_DIVISIONS, BUNDLED_DIVISIONS_CRS
from gis.service import GeoService
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.settings import Settings


@pytest.fixture(scope="session")
def bundled_divisions() -> list[Division]:
    divisions, _ = parse_divisions(
        read_geojson(BUNDLED_DIVISIONS), source="bundled", crs=BUNDLED_DIVISIONS_CRS
    )
    return divisions


@pytest.fixture(scope="session")
def gis_postgis_url(postgis_url: str) -> Iterator[str]:
    url = make_url(postgis_url)
    name = f"{url.database}_gis_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _open(url: str, data_dir: Path) -> tuple[GeoService, Engine]:
    settings = Settings(database_url=url, data_dir=data_dir)
    engine = make_engine(settings)
    upgrade(engine)
    return GeoService.open(settings, engine), engine


@pytest.fixture(scope="session")
def sqlite_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("geo-sqlite")
    return Settings(database_url=f"sqlite:///{data / 'geo.sqlite3'}", data_dir=data)


@pytest.fixture(scope="session")
def geo_sqlite(sqlite_settings: Settings) -> Iterator[GeoService]:
    geo, engine = _open(sqlite_settings.db_url, sqlite_settings.data_dir)
    yield geo
    engine.dispose()


@pytest.fixture(scope="session")
def geo_postgis(
    gis_postgis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GeoService]:
    geo, engine = _open(gis_postgis_url, tmp_path_factory.mktemp("geo-postgis"))
    yield geo
    engine.dispose()
