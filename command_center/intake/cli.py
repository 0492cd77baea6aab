"""``linkage feed push``: replay feed files into a server, the way agencies and tests do it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from command_center.intake.files import Upload
from command_center.intake.geojson_profiles import PROFILES
from command_center.intake.push import PushOptions, Summary, push_paths
from streams.domain import Domain

app = typer.Typer(help="Push feed files to a server.", no_args_is_help=True)

# Enough to see what went wrong without flooding a terminal; --verbose shows every one.
SHOWN_REFUSALS = 30


@app.callback()
def feed() -> None:
    """Push feed files to a server (the group stays a group even with one command)."""


@app.command()
def push(
    files: Annotated[
        list[Path],
        typer.Argument(help="Files or directories (JSON, NDJSON, CAP, GeoJSON).", metavar="PATH"),
    ],
    domain: Annotated[str, typer.Option(help="Feed domain: " + ", ".join(d.value for d in Domain))],
    url: Annotated[str, typer.Option(help="The server, e.g. http://127.0.0.1:8000")],
    key: Annotated[str, typer.Option(help="The agency's API key.", envvar="LINKAGE_FEED_KEY")],
    profile: Annotated[
        str | None,
        typer.Option(help="GeoJSON mapping: " + ", ".join(sorted(PROFILES)) + " (else guessed)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Events per JSON request.")] = 500,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Requests in flight.")] = 1,
    retries: Annotated[int, typer.Option(min=0, help="Retries of a 429/503/network error.")] = 8,
    max_wait: Annotated[float, typer.Option(help="Longest single wait between retries, s.")] = 60,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one answer.")] = 60,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every refusal.")] = False,
) -> None:
    """Push files to URL/api/v1/feeds/DOMAIN in batches; exit 1 if anything was refused or
    could not be delivered."""
    if domain not in {d.value for d in Domain}:
        raise typer.BadParameter(f"unknown domain {domain!r}", param_hint="--domain")
    if profile is not None and profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}", param_hint="--profile")
    for path in files:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist", param_hint="FILES")
    options = PushOptions(
        url=url,
        domain=domain,
        key=key,
        retries=retries,
        max_wait_s=max_wait,
        timeout_s=timeout,
        concurrency=concurrency,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]pushing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("requests"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as progress:
        task = progress.add_task("push", total=None)

        def planned(count: int) -> None:
            progress.update(task, total=count)

        def done(_upload: Upload) -> None:
            progress.advance(task)

        summary = asyncio.run(
            push_paths(
                files,
                options,
                batch_size=batch_size,
                profile=profile,
                on_planned=planned,
                on_done=done,
            )
        )
    if as_json:
        typer.echo(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
    else:
        _print(summary, url, verbose)
    raise typer.Exit(0 if summary.ok else 1)


def _print(summary: Summary, url: str, verbose: bool) -> None:
    typer.echo(
        f"pushed {summary.files} file(s) to {url}: {summary.accepted} accepted, "
        f"{summary.duplicates} duplicate(s), {len(summary.refused)} refused, "
        f"{len(summary.failed)} failed"
    )
    for title, entries in (("refused", summary.refused), ("failed", summary.failed)):
        if not entries:
            continue
        typer.echo(f"{title}:")
        shown = entries if verbose else entries[:SHOWN_REFUSALS]
        for entry in shown:
            typer.echo(f"  {entry}")
        if len(shown) < len(entries):
            typer.echo(f"  … and {len(entries) - len(shown)} more (--verbose lists them all)")
    if summary.skipped:
        typer.echo(f"skipped (unknown file type): {', '.join(summary.skipped)}")


if __name__ == "__main__":  # `python -m command_center.intake.cli push …` works without `linkage`
    app()
