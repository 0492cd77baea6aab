"""Small asyncio helpers shared by the long-running tasks (pipeline runner, console hub)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, retry_s: float = 0.5) -> None:
    """Cancel ``task`` and wait until it has really finished.

    A library that swallows one CancelledError (seen with redis-py while a pipeline write was
    in flight) would otherwise leave the task running and shutdown hanging forever: cancel
    again until it is done.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s had failed: %r", task.get_name(), task.exception())
