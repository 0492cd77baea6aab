"""Pipeline throughput: raw records → normalize ▶ enrich ▶ detect ▶ correlate ▶ plan ▶ store.

Compares, in the same run and on the same database, the whole pipeline against a raw baseline:
a plain SQLAlchemy bulk insert of the same number of event rows in batches of the same size.

    .venv/bin/python bench/bench_pipeline.py [--events 20000] [--batch 500] [--postgis URL]

With ``--postgis`` it also runs against that PostgreSQL/PostGIS database (it must be empty or
disposable: the bench migrates it and writes to it).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import shapely
from sqlalchemy import insert

from infra.db.models import EventRow
from infra.runtime import Runtime
from infra.settings import Settings, StreamSettings
from streams.domain import event_id_for
from streams.envelope import RawRecord
from streams.pipeline import Pipeline

CATEGORIES = ["fire", "rescue", "traffic_accident", "medical", "flood", "collapse"]
# Hebei's populated core: Shijiazhuang–Baoding–Langfang–Tangshan, where calls cluster.
BOX = (113.5, 36.2, 119.8, 42.5)


def make_records(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2023, 7, 31, 0, 0, tzinfo=UTC)
    records = []
    for n in range(count):
        source_id = f"bench-{seed}-{n}"
        envelope = {
            "source_id": source_id,
            "type": "call",
            "occurred_at": (start + timedelta(seconds=n)).isoformat(),
            "geometry": {
                "type": "Point",
                "coordinates": [rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])],
            },
            "crs": "EPSG:4326",
            "data": {
                "channel": rng.choice(["110", "119", "120", "122"]),
                "category": rng.choice(CATEGORIES),
                "description": "基准测试 benchmark call",
                "people_trapped": rng.randint(0, 12),
            },
        }
        record = RawRecord.model_validate(
            {
                "event_id": event_id_for("fire", source_id),
                "agency": "fire",
                "domain": "incident",
                "received_at": start.isoformat(),
                "envelope": envelope,
            }
        )
        records.append(record.model_dump_json().encode())
    return records


def run_pipeline(runtime: Runtime, records: list[bytes], batch: int) -> float:
    pipeline = Pipeline(runtime.sessions, runtime.geo, StreamSettings())
    started = time.perf_counter()
    for offset in range(0, len(records), batch):
        pipeline.process(records[offset : offset + batch])
    return time.perf_counter() - started


def run_baseline(runtime: Runtime, count: int, batch: int) -> float:
    rng = random.Random(11)
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "agency": "baseline",
            "source_id": f"raw-{n}",
            "domain": "incident",
            "type": "call",
            "occurred_at": now,
            "received_at": now,
            "attributes": {"category": "fire", "people_trapped": 1},
            "geometry": shapely.Point(rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])),
        }
        for n in range(count)
    ]
    started = time.perf_counter()
    for offset in range(0, count, batch):
        with runtime.sessions() as session, session.begin():
            session.execute(insert(EventRow), rows[offset : offset + batch])
    return time.perf_counter() - started


def bench(label: str, settings: Settings, events: int, batch: int) -> list[tuple[str, float]]:
    runtime = Runtime.open(settings)
    try:
        records = make_records(events)
        pipeline_s = run_pipeline(runtime, records, batch)
        baseline_s = run_baseline(runtime, events, batch)
    finally:
        runtime.close()
    return [
        (f"{label}: raw bulk insert (baseline)", events / baseline_s),
        (f"{label}: whole pipeline", events / pipeline_s),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgis", help="postgresql+psycopg2:// URL of a disposable database")
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += bench("SQLite", Settings(data_dir=Path(tmp)), args.events, args.batch)
        if args.postgis:
            rows += bench(
                "PostGIS",
                Settings(database_url=args.postgis, data_dir=Path(tmp)),
                args.events,
                args.batch,
            )
    print(f"\n{args.events} events, batches of {args.batch}\n")
    print(f"| {'run':<40} | {'events/s':>10} | {'vs baseline':>11} |")
    print(f"|{'-' * 42}|{'-' * 12}|{'-' * 13}|")
    for index, (name, rate) in enumerate(rows):
        baseline = rows[index - index % 2][1]
        print(f"| {name:<40} | {rate:>10,.0f} | {rate / baseline:>10.2f}x |")


if __name__ == "__main__":
    main()
