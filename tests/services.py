"""The one fixture layer through which tests reach real services (a pytest plugin).

Loaded by ``tests/conftest.py`` with ``pytest_plugins = ["tests.services"]``.

Session-scoped fixtures:

* ``postgis_url`` – a ``postgresql+psycopg2://`` URL of a database created for this test session
  (``linkage_test_<hex>``) and dropped at its end. The PostGIS extension is *not* created here:
  the migrations do that.
* ``redis_url`` – ``redis://host:port/N``: a database index leased to this session (so parallel
  sessions sharing one Redis do not collide), flushed before use and after. Redis pub/sub
  channels are server-wide, whatever the index: give them a :func:`unique_prefix`.
* ``kafka_url`` – ``kafka://host:port`` of the Kafka-protocol broker; ``kafka_bootstrap`` is the
  same as ``host:port``. Topics are not cleaned up: name them with ``kafka_topic_prefix`` (one per
  test) or :func:`unique_topic_prefix`.

Where the servers come from: ``LINKAGE_TEST_DATABASE_URL``, ``LINKAGE_TEST_REDIS_URL`` and
``LINKAGE_TEST_KAFKA_URL`` when set (``infra/scripts/test.sh`` sets them); otherwise the first
fixture that needs a service runs ``infra/services.sh start SERVICE`` (once per session) and
reads ``infra/services.sh env``. Services started that way keep running after the session
(``infra/services.sh stop`` stops them). A service that cannot be had makes the tests that need
it *error* with the script's message; they are never skipped.

Tests using these fixtures carry ``@pytest.mark.services``; the plugin adds the marker to any
test that reaches one of them (even indirectly) and lacks it, so ``-m "not services"`` stays
honest.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES_SCRIPT = REPO_ROOT / "infra" / "services.sh"

#: The environment variable that names each service's server.
ENV_VARS = {
    "postgres": "LINKAGE_TEST_DATABASE_URL",
    "redis": "LINKAGE_TEST_REDIS_URL",
    "kafka": "LINKAGE_TEST_KAFKA_URL",
}
#: Fixtures that reach a real service; tests using them get the ``services`` marker.
SERVICE_FIXTURES = frozenset(
    {
        "postgis_url",
        "redis_url",
        "kafka_url",
        "kafka_bootstrap",
        "postgis_template_url",
        "migrated_postgis_url",
    }
)

# Seconds `infra/services.sh start` may take (a first start may install packages with apt).
START_TIMEOUT = 900
# A crashed session's Redis lease expires after this long.
REDIS_LEASE_SECONDS = 6 * 3600
REDIS_LEASE_KEY = "linkage-test:db-lease:{index}"

_KAFKA_TOPIC_CHARS = re.compile(r"[^A-Za-z0-9-]+")


def unique_prefix(label: str = "t") -> str:
    """A name prefix no other test (or concurrent session) uses: ``<label>-<12 hex>``."""
    safe = _KAFKA_TOPIC_CHARS.sub("-", label).strip("-")[:80] or "t"
    return f"{safe}-{uuid.uuid4().hex[:12]}"


def unique_topic_prefix(label: str = "linkage-test") -> str:
    """A Kafka topic prefix unique to the caller; only ``[A-Za-z0-9-]``, well below 249 chars."""
    return unique_prefix(label)


class ServiceLayer:
    """Finds or starts each service once per session, through ``infra/services.sh``."""

    def __init__(self, script: Path = SERVICES_SCRIPT, lease_pid: int | None = None) -> None:
        self.script = script
        self.lease_pid = os.getpid() if lease_pid is None else lease_pid
        self._urls: dict[str, str] = {}
        self._failures: dict[str, str] = {}
        self._leased = False

    def url(self, service: str) -> str:
        """The URL of ``service`` (``postgres``, ``redis`` or ``kafka``); fails the test if none."""
        preset = os.environ.get(ENV_VARS[service])
        if preset:
            return preset
        if service not in self._urls and service not in self._failures:
            self._start(service)
        if service in self._failures:
            pytest.fail(self._failures[service], pytrace=False)
        return self._urls[service]

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.script), *args],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _start(self, service: str) -> None:
        variable = ENV_VARS[service]
        try:
            started = self._run(
                "start", "--lease", str(self.lease_pid), service, timeout=START_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._failures[service] = f"{service}: could not run {self.script}: {exc}"
            return
        self._leased = True
        if started.returncode != 0:
            self._failures[service] = (
                f"{service} is unavailable (set {variable}, or fix this and re-run): "
                f"{_last_line(started.stderr) or _last_line(started.stdout) or 'no message'}"
            )
            return
        shown = self._run("env", service, timeout=60)
        urls = _parse_exports(shown.stdout)
        if shown.returncode != 0 or variable not in urls:
            self._failures[service] = (
                f"{service}: `{self.script} env {service}` gave no {variable}: "
                f"{_last_line(shown.stderr) or shown.stdout.strip()}"
            )
            return
        self._urls[service] = urls[variable]

    def close(self) -> None:
        """Drop this session's lease (services started here keep running)."""
        if self._leased:
            self._leased = False
            self._run("release", str(self.lease_pid), timeout=120)


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _parse_exports(output: str) -> dict[str, str]:
    """``export NAME=VALUE`` lines (shell-quoted values) → ``{NAME: VALUE}``."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            found[name] = value
    return found


# ---------------------------------------------------------------- pytest hooks and fixtures


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & SERVICE_FIXTURES and item.get_closest_marker("services") is None:
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session")
def linkage_services() -> Iterator[ServiceLayer]:
    """The session's :class:`ServiceLayer` (use the URL fixtures below rather than this)."""
    layer = ServiceLayer()
    yield layer
    layer.close()


def _psycopg2_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        pytest.fail(f"{ENV_VARS['postgres']}={url!r} is not a postgresql:// URL", pytrace=False)
    return parsed.set(drivername="postgresql+psycopg2")


def _reason(exc: Exception) -> str:
    """The driver's message on one line, without SQLAlchemy's decorations."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).split("\n")
    return " ".join(line.strip() for line in lines if line.strip()) or type(exc).__name__


@pytest.fixture(scope="session")
def postgis_url(linkage_services: ServiceLayer) -> Iterator[str]:
    """A fresh, empty database on the test PostgreSQL server, for this session only."""
    server = _psycopg2_url(linkage_services.url("postgres"))
    name = f"linkage_test_{uuid.uuid4().hex[:16]}"
    shown = server.render_as_string(hide_password=True)
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        error = None
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as exc:
            error = _reason(exc)
        if error is not None:
            pytest.fail(f"cannot create a test database on {shown}: {error}", pytrace=False)
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _with_db(url: str, index: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{index}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def redis_url(linkage_services: ServiceLayer) -> Iterator[str]:
    """A Redis database index leased to this session, empty at the start."""
    base = linkage_services.url("redis")
    token = uuid.uuid4().hex
    control = redis.Redis.from_url(base, socket_connect_timeout=5, socket_timeout=10)
    try:
        error = None
        try:
            home = int(control.connection_pool.connection_kwargs.get("db") or 0)
            try:
                databases = int(control.config_get("databases").get("databases") or 16)
            except redis.ResponseError:  # CONFIG is disabled on some managed servers
                databases = 16
            index = next(
                (
                    candidate
                    for candidate in range(databases)
                    if candidate != home
                    and control.set(
                        REDIS_LEASE_KEY.format(index=candidate),
                        token,
                        nx=True,
                        ex=REDIS_LEASE_SECONDS,
                    )
                ),
                None,
            )
        except redis.RedisError as exc:
            error = _reason(exc)
        if error is not None:
            pytest.fail(f"Redis at {base} is unusable: {error}", pytrace=False)
        if index is None:
            pytest.fail(
                f"all {databases - 1} databases of Redis at {base} are leased to other test "
                f"sessions (keys {REDIS_LEASE_KEY.format(index='*')} in db {home})",
                pytrace=False,
            )
        url = _with_db(base, index)
        session_client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        try:
            session_client.flushdb()
            yield url
            session_client.flushdb()
        finally:
            session_client.close()
            lease = REDIS_LEASE_KEY.format(index=index)
            if control.get(lease) == token.encode():
                control.delete(lease)
    finally:
        control.close()


@pytest.fixture(scope="session")
def kafka_url(linkage_services: ServiceLayer) -> str:
    """``kafka://host:port`` of the Kafka-protocol test broker."""
    url = linkage_services.url("kafka")
    parts = urlsplit(url)
    host, _, port = parts.netloc.split(",")[0].rpartition(":")
    if parts.scheme != "kafka" or not host or not port.isdigit():
        pytest.fail(f"{ENV_VARS['kafka']}={url!r} is not a kafka://host:port URL", pytrace=False)
    error = None
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        error = exc
    if error is not None:
        pytest.fail(f"the Kafka broker at {url} does not answer: {error}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_url: str) -> str:
    """The broker as aiokafka's ``bootstrap_servers`` wants it: ``host:port``."""
    return urlsplit(kafka_url).netloc


@pytest.fixture
def kafka_topic_prefix(request: pytest.FixtureRequest) -> str:
    """A topic prefix unique to this test: ``<test name>-<12 hex>``."""
    return unique_topic_prefix(f"test-{request.node.name}")


@pytest.fixture(scope="session")
def postgis_template_url(linkage_services: ServiceLayer) -> Iterator[str]:
    """A database migrated and loaded with the default geodata once per session, to clone."""
    from infra.runtime import Runtime
    from infra.settings import Settings

    server = _psycopg2_url(linkage_services.url("postgres"))
    name = f"linkage_tmpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory() as data_dir:
            runtime = Runtime.open(Settings(database_url=url, data_dir=Path(data_dir)))
            runtime.close()  # a template may have no open connections
        yield url
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def migrated_postgis_url(postgis_template_url: str) -> Iterator[str]:
    """A fresh, migrated database with the default geodata for one test (a template clone)."""
    template = make_url(postgis_template_url)
    name = f"linkage_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        template.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        yield template.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
