"""Reading and writing the geodata tables; the same SQLAlchemy Core on PostGIS and SQLite."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gis.divisions import Division
from gis.layers import Feature
from gis.models import DivisionRow, FeatureRow, LayerRow, UnitRow
from streams.domain import Unit, UnitStatus, utcnow

# The divisions' own row in geo_layers: its version is the ETag base of the division layers.
DIVISIONS_LAYER = "divisions"


@dataclass(frozen=True, slots=True)
class LayerInfo:
    name: str
    title: str
    source: str
    sample: bool
    feature_count: int
    version: str
    loaded_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "sample": self.sample,
            "feature_count": self.feature_count,
            "version": self.version,
            "loaded_at": self.loaded_at.isoformat(),
        }


def _version(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:32]


def _set_layer(
    connection: object, name: str, title: str, source: str, sample: bool, count: int, version: str
) -> None:
    from sqlalchemy.engine import Connection

    assert isinstance(connection, Connection)
    values = {
        "name": name,
        "title": title,
        "source": source,
        "sample": sample,
        "feature_count": count,
        "version": version,
        "loaded_at": utcnow(),
    }
    # Update in place: the layer's features reference its row.
    updated = connection.execute(update(LayerRow).where(LayerRow.name == name).values(values))
    if not updated.rowcount:
        connection.execute(insert(LayerRow), [values])


# -- divisions -------------------------------------------------------------------------------


def write_divisions(
    engine: Engine, divisions: Sequence[Division], *, source: str, replace_all: bool = False
) -> None:
    """Upsert divisions by adcode (other provinces already loaded stay, unless ``replace_all``)."""
    now = utcnow()
    with engine.begin() as connection:
        if replace_all:
            connection.execute(delete(DivisionRow))
        else:
            codes = [d.adcode for d in divisions]
            connection.execute(delete(DivisionRow).where(DivisionRow.adcode.in_(codes)))
        connection.execute(
            insert(DivisionRow),
            [
                {
                    "adcode": d.adcode,
                    "name": d.name,
                    "level": d.level,
                    "parent_adcode": d.parent_adcode,
                    "geometry": d.geometry,
                    "loaded_at": now,
                }
                for d in divisions
            ],
        )
        total = connection.execute(select(func.count()).select_from(DivisionRow)).scalar_one()
        version = _version(
            f"{d.adcode}{d.name}{d.parent_adcode}".encode() + shapely.to_wkb(d.geometry)
            for d in divisions
        )
        _set_layer(
            connection,
            DIVISIONS_LAYER,
            "Administrative divisions 行政区划",
            source,
            False,
            int(total),
            version + now.isoformat(),
        )


def read_divisions(engine: Engine) -> list[Division]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                DivisionRow.adcode,
                DivisionRow.name,
                DivisionRow.level,
                DivisionRow.parent_adcode,
                DivisionRow.geometry,
            ).order_by(DivisionRow.adcode)
        ).all()
    return [Division(r.adcode, r.name, r.level, r.parent_adcode, r.geometry) for r in rows]


# -- layers ----------------------------------------------------------------------------------


def write_layer(
    engine: Engine,
    layer: str,
    title: str,
    features: Sequence[Feature],
    *,
    source: str,
    sample: bool,
    replace: bool = True,
) -> LayerInfo:
    """Replace (or, with ``replace=False``, upsert into) one layer's features."""
    with engine.begin() as connection:
        if replace:
            connection.execute(delete(FeatureRow).where(FeatureRow.layer == layer))
        else:
            fids = [f.fid for f in features]
            connection.execute(
                delete(FeatureRow).where(FeatureRow.layer == layer, FeatureRow.fid.in_(fids))
            )
        existing = connection.execute(
            select(LayerRow.title, LayerRow.source, LayerRow.sample).where(LayerRow.name == layer)
        ).first()
        if existing is None or replace:
            _set_layer(connection, layer, title, source, sample, 0, "new")
        if features:
            connection.execute(
                insert(FeatureRow),
                [
                    {
                        "layer": layer,
                        "fid": f.fid,
                        "name": f.name,
                        "kind": f.kind,
                        "properties": f.properties,
                        "geometry": f.geometry,
                    }
                    for f in features
                ],
            )
        count = connection.execute(
            select(func.count()).select_from(FeatureRow).where(FeatureRow.layer == layer)
        ).scalar_one()
        version = _version(
            [utcnow().isoformat().encode()]
            + [json.dumps([f.fid, f.name, f.kind, f.properties]).encode() for f in features]
        )
        if existing is not None and not replace:
            title, source, sample = existing.title, existing.source, existing.sample
        _set_layer(connection, layer, title, source, sample, int(count), version)
    info = layer_info(engine, layer)
    assert info is not None
    return info


def delete_features(engine: Engine, layer: str, fids: Sequence[str]) -> int:
    with engine.begin() as connection:
        result = connection.execute(
            delete(FeatureRow).where(FeatureRow.layer == layer, FeatureRow.fid.in_(list(fids)))
        )
    return int(result.rowcount or 0)


def read_features(engine: Engine, layer: str | None = None) -> list[Feature]:
    query = select(
        FeatureRow.layer,
        FeatureRow.fid,
        FeatureRow.name,
        FeatureRow.geometry,
        FeatureRow.kind,
        FeatureRow.properties,
    ).order_by(FeatureRow.layer, FeatureRow.fid)
    if layer is not None:
        query = query.where(FeatureRow.layer == layer)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Feature(r.layer, r.fid, r.name, r.geometry, r.kind, dict(r.properties)) for r in rows]


def layer_infos(engine: Engine) -> list[LayerInfo]:
    with engine.connect() as connection:
        rows = connection.execute(select(*LayerRow.__table__.c).order_by(LayerRow.name)).all()
    return [
        LayerInfo(r.name, r.title, r.source, r.sample, r.feature_count, r.version, r.loaded_at)
        for r in rows
    ]


def layer_info(engine: Engine, name: str) -> LayerInfo | None:
    return next((info for info in layer_infos(engine) if info.name == name), None)


def layer_version(engine: Engine, name: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            select(LayerRow.version).where(LayerRow.name == name)
        ).scalar_one_or_none()


# -- units -----------------------------------------------------------------------------------


def _insert(engine: Engine) -> type[postgresql.Insert] | type[sqlite.Insert]:
    return postgresql.Insert if engine.dialect.name == "postgresql" else sqlite.Insert


def write_units(engine: Engine, units: Sequence[Unit]) -> None:
    """Create or fully update units (the roster); positions come and go with AVL updates."""
    if not units:
        return
    insert = _insert(engine)(UnitRow)
    statement = insert.on_conflict_do_update(
        index_elements=[UnitRow.id],
        set_={
            column: insert.excluded[column]
            for column in (
                "agency",
                "type",
                "name",
                "status",
                "home_station",
                "position",
                "updated_at",
            )
        },
    )
    with engine.begin() as connection:
        connection.execute(
            statement,
            [
                {
                    "id": u.id,
                    "agency": u.agency,
                    "type": u.type,
                    "name": u.name,
                    "status": u.status.value,
                    "home_station": u.home_station,
                    "position": u.position,
                    "updated_at": u.updated_at,
                }
                for u in units
            ],
        )


def read_units(engine: Engine) -> list[Unit]:
    with engine.connect() as connection:
        rows = connection.execute(select(*UnitRow.__table__.c).order_by(UnitRow.id)).all()
    return [
        Unit(
            id=r.id,
            agency=r.agency,
            type=r.type,
            name=r.name,
            status=UnitStatus(r.status),
            position=r.position,
            home_station=r.home_station,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
