"""``linkage geo``: load divisions and layers into the database the server uses.

Acts on the same settings as the server (``LINKAGE_DATABASE_URL``, ``LINKAGE_DATA_DIR``) and
migrates the database first, as the server does at start-up. A running server picks up new
layers on the next map request (the layer version changes); new divisions after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy import Engine

from infra.errors import LinkageError

app = typer.Typer(help="Geodata: divisions and layers.", no_args_is_help=True)
T = TypeVar("T")


def _engine() -> Engine:
    from infra.db.engine import check_database, make_engine
    from infra.db.migrate import upgrade
    from infra.settings import load_settings

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings)
    check_database(engine)
    upgrade(engine)
    return engine


def _target(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _run(action: Callable[[], T]) -> T:
    """Errors as one line on stderr and exit status 1, never a traceback."""
    try:
        return action()
    except LinkageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def load(
    file: Annotated[
        Path | None,
        typer.Argument(help="GeoJSON FeatureCollection; none: the bundled Hebei divisions."),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="Load FILE as this layer (rivers, gauges, …, units) not divisions."),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="CRS of FILE when it does not declare one (e.g. GCJ-02 for Amap)."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Divisions: drop all loaded ones first.")
    ] = False,
    samples: Annotated[
        bool, typer.Option("--samples", help="Also load the bundled sample layers and units.")
    ] = False,
) -> None:
    """Load divisions (default) or one layer from FILE, validating and reporting it."""
    from gis import loaders

    def action() -> None:
        if file is not None and not file.is_file():
            raise LinkageError(f"{file}: no such file")
        engine = _engine()
        if layer is not None:
            if file is None:
                raise LinkageError("--layer needs a FILE")
            typer.echo(f"loaded {loaders.load_layer(engine, layer, file, crs=crs)}")
        else:
            report = loaders.load_divisions(engine, file, crs=crs, replace_all=replace)
            typer.echo(f"loaded {report.summary()} into {_target(engine)}")
        if samples:
            for line in loaders.load_samples(engine):
                typer.echo(f"loaded {line}")

    _run(action)


@app.command("samples")
def load_samples() -> None:
    """Load rivers, places and the bundled (clearly labelled) Hebei sample layers and units."""
    from gis import loaders

    def action() -> None:
        engine = _engine()
        for line in loaders.load_samples(engine):
            typer.echo(f"loaded {line}")

    _run(action)


@app.command("layers")
def list_layers() -> None:
    """The loaded layers with their feature counts and sources."""
    from gis import store

    def action() -> None:
        for info in store.layer_infos(_engine()):
            flag = " [sample]" if info.sample else ""
            typer.echo(f"{info.name:16} {info.feature_count:6d}{flag}  {info.source}")

    _run(action)


@app.command()
def lookup(
    lon: Annotated[float, typer.Argument()],
    lat: Annotated[float, typer.Argument()],
    crs: Annotated[str, typer.Option(help="CRS of the point.")] = "EPSG:4326",
) -> None:
    """Province, city and county of a point, as the API answers it."""
    from shapely.geometry import Point

    from gis.crs import to_wgs84
    from gis.service import GeoService
    from infra.settings import load_settings

    def action() -> None:
        point = to_wgs84(Point(lon, lat), crs)
        geo = GeoService.open(load_settings(), _engine())
        answer = geo.describe(geo.lookup(point.x, point.y))
        typer.echo(json.dumps(answer, ensure_ascii=False))

    _run(action)
