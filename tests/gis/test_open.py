"""GeoService.open: seeds a fresh database once, even when several processes start together,
and starts fast when warm (grid cached on disk under the data dir)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gis.models import DivisionRow, UnitRow
from gis.service import GRID_CACHE, GeoService
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.settings import Settings


def test_warm_start_uses_the_cached_grid(sqlite_settings: Settings, geo_sqlite: GeoService) -> None:
    assert (sqlite_settings.data_dir / GRID_CACHE).exists()
    start = time.perf_counter()
    again = GeoService.open(sqlite_settings, geo_sqlite.engine)
    assert time.perf_counter() - start < 2.0
    assert again.lookup(115.974, 39.486).county == "130681"


def test_concurrent_first_starts_seed_once(postgis_url: str, tmp_path: Path) -> None:
    server = make_url(postgis_url)
    name = f"{server.database}_seed_{uuid.uuid4().hex[:6]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        settings = Settings(
            database_url=server.set(database=name).render_as_string(hide_password=False),
            data_dir=tmp_path,
        )
        engine = make_engine(settings)
        upgrade(engine)
        with ThreadPoolExecutor(3) as pool:
            services = list(pool.map(lambda _: GeoService.open(settings, engine), range(3)))
        assert all(s.lookup(115.974, 39.486).county == "130681" for s in services)
        with engine.connect() as connection:
            divisions = connection.execute(select(func.count()).select_from(DivisionRow))
            assert divisions.scalar_one() == 179
            units = connection.execute(select(func.count()).select_from(UnitRow))
            assert units.scalar_one() == 176
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
