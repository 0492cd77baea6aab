"""The ``linkage`` command. Every command acts on the same settings as the server beside it."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from infra.errors import LinkageError
from infra.settings import Settings, load_settings

app = typer.Typer(help="Linkage 应急联动平台: emergency linkage platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Agency API keys.", no_args_is_help=True)
users_app = typer.Typer(help="Operator accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")


def _settings() -> Settings:
    return load_settings()


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def run(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Feed the demo scenario.")] = True,
    host: Annotated[str | None, typer.Option(help="Overrides LINKAGE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides LINKAGE_PORT.")] = None,
) -> None:
    """Embedded all-in-one: API, console and stream runner in one process."""
    from infra.server import run_server

    settings = _settings()
    _configure_logging(settings)
    asyncio.run(run_server(settings, host=host, port=port, pipeline=True, demo=demo))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides LINKAGE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides LINKAGE_PORT.")] = None,
) -> None:
    """API and console server (distributed runtime: the pipeline runs in `linkage worker`)."""
    from infra.server import run_server

    settings = _settings()
    _configure_logging(settings)
    asyncio.run(run_server(settings, host=host, port=port, pipeline=None, demo=False))


@app.command()
def worker() -> None:
    """Stream worker on Kafka (faust-streaming); scale out by starting more."""
    from streams.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    run_worker(settings)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations (creates the PostGIS extension on PostgreSQL)."""
    from infra.db.engine import check_database, make_engine
    from infra.db.migrate import current_revision, upgrade

    settings = _settings()
    engine = make_engine(settings)
    check_database(engine)
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}")


def _sessions() -> sessionmaker[Session]:
    from infra.db.engine import check_database, make_engine, make_sessionmaker
    from infra.db.migrate import upgrade

    settings = _settings()
    engine = make_engine(settings)
    check_database(engine)
    upgrade(engine)
    return make_sessionmaker(engine)


@keys_app.command("create")
def keys_create(
    agency: str,
    domains: Annotated[
        str | None, typer.Option(help="Comma-separated feed domains; default the agency's own.")
    ] = None,
) -> None:
    """Create an API key; it is printed once, alone on the last line."""
    from command_center.auth import create_key, parse_domains

    sessions = _sessions()
    with sessions() as session, session.begin():
        key, row = create_key(session, agency, parse_domains(domains))
        typer.echo(f"key {row.id} for {agency}, domains: {', '.join(row.domains)}")
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    agency: Annotated[str | None, typer.Option(help="Only this agency's keys.")] = None,
) -> None:
    """List keys: id, agency, prefix, domains, created, revoked (never the key itself)."""
    from command_center.keys import key_json, list_keys

    with _sessions()() as session:
        keys = [key_json(row) for row in list_keys(session, agency)]
    header = ("ID", "AGENCY", "PREFIX", "DOMAINS", "CREATED", "REVOKED")
    rows = [
        (
            k["id"],
            k["agency"],
            k["prefix"],
            ",".join(k["domains"]),
            k["created_at"][:19] + "Z",
            "-"
            if k["revoked_at"] is None
            else k["revoked_at"][:19] + "Z" + (" (grace)" if k["state"] == "expiring" else ""),
        )
        for k in keys
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id now (takes effect within seconds on every server)."""
    from command_center.keys import revoke_now

    with _sessions()() as session, session.begin():
        revoke_now(session, key_id)
    typer.echo(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(
    key_id: str,
    grace_seconds: Annotated[
        int, typer.Option(min=0, help="Seconds the old key keeps working (default: none).")
    ] = 0,
) -> None:
    """Replace a key with a new one (same agency and domains), printed alone on the last line;
    the old key stops working after the grace period."""
    from command_center.keys import rotate_key

    with _sessions()() as session, session.begin():
        key, new, old = rotate_key(session, key_id, grace_seconds)
        assert old.revoked_at is not None
        typer.echo(
            f"key {new.id} replaces {old.id} for {new.agency}, domains: {', '.join(new.domains)}; "
            f"the old key works until {old.revoked_at.isoformat()}"
        )
    typer.echo(key)


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin, commander, operator, liaison or duty.")],
    agency: Annotated[str | None, typer.Option(help="The agency of a liaison.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an operator account."""
    import secrets

    from command_center.auth import create_user

    generated = not password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\r\n")
    with _sessions()() as session, session.begin():
        create_user(session, name, role, password, agency)
    typer.echo(f"user {name} ({role}) created")
    if generated:
        typer.echo(f"password (shown once): {password}")


def _mount_subcommands() -> None:
    from command_center.intake.cli import app as feed_app
    from gis.cli import app as geo_app

    app.add_typer(geo_app, name="geo", help="Geodata: divisions and layers.")
    app.add_typer(feed_app, name="feed", help="Push feed files to a server.")


def main() -> None:
    _mount_subcommands()
    try:
        app()
    except LinkageError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
