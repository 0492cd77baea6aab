"""`linkage run` on a fresh data directory, migrations from empty, and fail-fast configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from infra.db.engine import make_engine
from infra.db.migrate import current_revision, upgrade
from infra.settings import Settings
from tests.processes import REPO, background, free_port, linkage, wait_healthy

CORE_TABLES = {
    "agencies",
    "api_keys",
    "users",
    "secrets",
    "feed_receipts",
    "events",
    "incidents",
    "tasks",
    "console_changes",
    "dead_letters",
}


def test_linkage_run_answers_healthz_within_seconds_on_a_fresh_data_dir(tmp_path: Path) -> None:
    port = free_port()
    env = {"LINKAGE_DATA_DIR": str(tmp_path / "fresh"), "LINKAGE_PORT": str(port)}
    log = tmp_path / "run.log"
    with background("run", "--no-demo", env=env, log=log) as process:
        seconds = wait_healthy(f"http://127.0.0.1:{port}", process, log, timeout=30)
        body = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        page = httpx.get(f"http://127.0.0.1:{port}/console/")
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
    assert seconds < 15, f"healthy only after {seconds:.1f} s"
    assert body["status"] == "ok"
    assert page.status_code == 200 and "Linkage" in page.text
    assert "/api/v1/feeds/{domain}" in docs["paths"]
    assert "EventEnvelope" in docs["components"]["schemas"]
    assert f"http://127.0.0.1:{port}/console/" in log.read_text()
    assert (tmp_path / "fresh" / "linkage.sqlite3").exists()


def test_migrations_apply_from_empty_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= CORE_TABLES
    assert current_revision(engine) is not None
    upgrade(engine)  # idempotent
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM agencies")).scalar_one() == 17
    engine.dispose()


@pytest.mark.services
def test_migrations_apply_from_empty_on_postgis(postgis_url: str, tmp_path: Path) -> None:
    # A database of its own: the session database may already be migrated by other tests.
    admin = create_engine(postgis_url, isolation_level="AUTOCOMMIT")
    name = f"linkage_empty_{tmp_path.name[-8:].lower().replace('-', '_')}"
    base = postgis_url.rsplit("/", 1)[0]
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        linkage("db", "upgrade", env={"LINKAGE_DATABASE_URL": f"{base}/{name}"})
        engine = create_engine(f"{base}/{name}")
        with engine.connect() as connection:
            assert (
                connection.execute(
                    text("SELECT extname FROM pg_extension WHERE extname = 'postgis'")
                ).scalar_one()
                == "postgis"
            )
            assert set(inspect(connection).get_table_names()) >= CORE_TABLES
            kinds = (
                connection.execute(
                    text("SELECT type FROM geometry_columns WHERE f_table_name = 'events'")
                )
                .scalars()
                .all()
            )
            indexes = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_events_geometry'")
            ).scalar_one()
        engine.dispose()
        assert kinds == ["GEOMETRY"] and "gist" in indexes.lower()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LINKAGE_BUS_URL", "rabbit://x", "LINKAGE_BUS_URL='rabbit://x': unknown scheme"),
        ("LINKAGE_PUBSUB_URL", "nats://x", "LINKAGE_PUBSUB_URL='nats://x': unknown scheme"),
        ("LINKAGE_DATABASE_URL", "mysql://x/y", "unknown scheme"),
        ("LINKAGE_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none", "unreachable"),
    ],
)
def test_misconfiguration_fails_fast_in_one_line(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "db", "upgrade"],
        env={"PATH": "/usr/bin:/bin", "LINKAGE_DATA_DIR": str(tmp_path), variable: value},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreachable_broker_fails_fast(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "serve", "--port", str(port)],
        env={
            "PATH": "/usr/bin:/bin",
            "LINKAGE_DATA_DIR": str(tmp_path),
            "LINKAGE_BUS_URL": f"kafka://127.0.0.1:{free_port()}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode != 0
    assert "Kafka broker at 127.0.0.1" in result.stderr and "unreachable" in result.stderr
    assert "Traceback" not in result.stderr
