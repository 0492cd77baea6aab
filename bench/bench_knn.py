"""Nearest available units of a type: PostGIS KNN vs the embedded store, 10k units.

    .venv/bin/python bench/bench_knn.py [--units 10000] [--queries 1000]
        [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]

Creates a scratch database ``linkage_bench_knn`` on that server (dropped afterwards), migrates
it, writes the units (uniform over Hebei's box, five types, 70% available), and asks for the 5
nearest available units of one type within 50 km from random points, one query at a time, as
dispatch does. Reports p50/p99 latency per query on PostGIS (``<->`` on the geography GiST
index, then exact spheroid distances) and on the embedded store (numpy in memory), and checks
that both give the same units in the same order for every query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from shapely.geometry import Point
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gis.spatial_memory import MemorySpatial
from gis.spatial_postgis import PostgisSpatial
from infra.db.engine import make_engine
from infra.db.migrate import upgrade
from infra.settings import Settings
from streams.domain import Unit, UnitStatus

TYPES = ("fire_engine", "ambulance", "rescue_team", "boat", "pump")
BOX = (113.46, 36.05, 119.87, 42.62)
DB_NAME = "linkage_bench_knn"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    rng = random.Random(3)
    now = datetime.now(UTC)
    units = [
        Unit(
            id=f"u{i:05d}",
            agency="fire",
            type=rng.choice(TYPES),
            name=f"unit {i}",
            status=UnitStatus.AVAILABLE if rng.random() < 0.7 else UnitStatus.DISPATCHED,
            position=Point(rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])),
            updated_at=now,
        )
        for i in range(args.units)
    ]
    queries = [
        (rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3]), rng.choice(TYPES))
        for _ in range(args.queries)
    ]

    server = make_url(args.database_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pg_settings = Settings(
                database_url=server.set(database=DB_NAME).render_as_string(hide_password=False),
                data_dir=Path(tmp),
            )
            lite_settings = Settings(database_url=f"sqlite:///{tmp}/knn.sqlite3", data_dir=tmp)
            stores = {}
            for label, settings, cls in (
                ("PostGIS", pg_settings, PostgisSpatial),
                ("embedded", lite_settings, MemorySpatial),
            ):
                engine = make_engine(settings)
                upgrade(engine)
                store = cls(engine)
                store.write_units(units)
                stores[label] = store
                if label == "PostGIS":
                    with engine.begin() as connection:
                        connection.execute(text("ANALYZE units"))
            return run(stores, queries, args)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


def run(
    stores: dict[str, PostgisSpatial | MemorySpatial],
    queries: list[tuple[float, float, str]],
    args: argparse.Namespace,
) -> int:
    answers: dict[str, list[list[str]]] = {}
    print(
        f"{args.units} units, {len(queries)} queries: 5 nearest available of one type "
        f"within 50 km\n"
    )
    print("| store | p50 ms | p99 ms | max ms | queries/s |")
    print("|---|---:|---:|---:|---:|")
    for label, store in stores.items():
        for lon, lat, kind in queries[:50]:  # warm up: connections, caches, plans
            store.nearest_units(
                lon, lat, k=5, max_distance_m=50_000, types=[kind], statuses=[UnitStatus.AVAILABLE]
            )
        latencies = []
        found = []
        for lon, lat, kind in queries:
            start = time.perf_counter()
            hits = store.nearest_units(
                lon, lat, k=5, max_distance_m=50_000, types=[kind], statuses=[UnitStatus.AVAILABLE]
            )
            latencies.append((time.perf_counter() - start) * 1000)
            found.append([hit.unit.id for hit in hits])
        answers[label] = found
        print(
            f"| {label} | {percentile(latencies, 50):.2f} | {percentile(latencies, 99):.2f} | "
            f"{max(latencies):.2f} | {1000 / statistics.mean(latencies):,.0f} |"
        )
    postgis, embedded = answers["PostGIS"], answers["embedded"]
    differing = sum(a != b for a, b in zip(postgis, embedded, strict=True))
    print(
        f"\nanswers identical on {len(queries) - differing} of {len(queries)} queries; "
        f"mean {statistics.mean(len(a) for a in postgis):.2f} units found per query"
    )
    return 0 if differing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
