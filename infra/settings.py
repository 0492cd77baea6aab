"""Settings, one class per concern, all read from ``LINKAGE_*`` environment variables.

The backend of each concern is chosen by the scheme of its URL, never by code edits:
``memory://`` / ``kafka://`` for the bus, ``sqlite:///`` / ``postgresql+psycopg2://`` for storage,
``memory://`` / ``redis://`` for console pub/sub.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.errors import ConfigurationError

BusKind = Literal["memory", "kafka"]
StorageKind = Literal["sqlite", "postgresql"]
PubSubKind = Literal["memory", "redis"]

_BUS_SCHEMES: dict[str, BusKind] = {"memory": "memory", "kafka": "kafka"}
_PUBSUB_SCHEMES: dict[str, PubSubKind] = {"memory": "memory", "redis": "redis", "rediss": "redis"}
_STORAGE_SCHEMES: dict[str, StorageKind] = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+psycopg2": "postgresql",
}


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


class Settings(BaseSettings):
    """Where data lives and which backends run. Defaults give the embedded runtime."""

    model_config = SettingsConfigDict(env_prefix="LINKAGE_", extra="ignore")

    data_dir: Path = Field(default=Path("./linkage-data"))
    database_url: str | None = None
    bus_url: str = "memory://"
    pubsub_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    # Intake limits: mature CAD and CAP brokers bound both bytes and items per request.
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=5000, ge=1)
    # Secret that signs operator tokens; generated and kept under data_dir when unset.
    secret_key: str | None = None
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    log_level: str = "INFO"

    @field_validator("bus_url")
    @classmethod
    def _known_bus(cls, value: str) -> str:
        if _scheme(value) not in _BUS_SCHEMES:
            raise ValueError(
                f"LINKAGE_BUS_URL={value!r}: unknown scheme; use memory:// or kafka://host:port"
            )
        return value

    @field_validator("pubsub_url")
    @classmethod
    def _known_pubsub(cls, value: str) -> str:
        if _scheme(value) not in _PUBSUB_SCHEMES:
            raise ValueError(
                f"LINKAGE_PUBSUB_URL={value!r}: unknown scheme; use memory:// or redis://host:port/db"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and _scheme(value) not in _STORAGE_SCHEMES:
            raise ValueError(
                f"LINKAGE_DATABASE_URL={value!r}: unknown scheme; use sqlite:///path "
                "or postgresql+psycopg2://user:password@host/db"
            )
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'linkage.sqlite3').resolve()}"
        elif _scheme(self.database_url) == "postgresql":
            # psycopg2 is the driver we ship; make the bare scheme mean it.
            self.database_url = "postgresql+psycopg2" + self.database_url[len("postgresql") :]
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled by _default_database
        return self.database_url

    @property
    def bus_kind(self) -> BusKind:
        return _BUS_SCHEMES[_scheme(self.bus_url)]

    @property
    def pubsub_kind(self) -> PubSubKind:
        return _PUBSUB_SCHEMES[_scheme(self.pubsub_url)]

    @property
    def storage_kind(self) -> StorageKind:
        return _STORAGE_SCHEMES[_scheme(self.db_url)]

    @property
    def kafka_bootstrap(self) -> str:
        """``kafka://h1:9092,h2:9092`` → ``h1:9092,h2:9092``."""
        netloc = urlsplit(self.bus_url).netloc
        if not netloc:
            raise ConfigurationError(f"LINKAGE_BUS_URL={self.bus_url!r} names no broker host:port")
        return netloc

    @cached_property
    def is_embedded(self) -> bool:
        return self.bus_kind == "memory"


class StreamSettings(BaseSettings):
    """Tuning of the stream workers (distributed runtime)."""

    model_config = SettingsConfigDict(env_prefix="LINKAGE_STREAM_", extra="ignore")

    app_id: str = "linkage"
    topic_prefix: str = "linkage"
    partitions: int = Field(default=4, ge=1)
    batch_max: int = Field(default=500, ge=1)
    batch_within_seconds: float = Field(default=0.05, gt=0)
    # Events of one category closer than this and newer than the window join one incident.
    correlate_radius_m: float = Field(default=1000.0, gt=0)
    correlate_window_seconds: int = Field(default=6 * 3600, gt=0)
    # Consumer-group timing. Tansu holds a group's first join for half the session timeout
    # (measured: 30 s with faust's 60 s default), so a short session means a fast start; raise
    # both when workers are slow to rejoin under load.
    session_timeout_seconds: float = Field(default=10.0, gt=0)
    rebalance_timeout_seconds: float = Field(default=10.0, gt=0)
    # Port of the worker's own Prometheus endpoint; 0 turns it off (several workers per host
    # each need their own port).
    metrics_port: int = Field(default=0, ge=0, le=65535)


def load_settings() -> Settings:
    """Read settings, turning validation problems into one actionable line."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigurationError(str(first.get("msg", exc)).removeprefix("Value error, ")) from None
