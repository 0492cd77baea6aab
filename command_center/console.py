"""The console hub: one pub/sub subscription per server, fanned out to every websocket.

Protocol (JSON text frames, server → client):
  ``{"type": "snapshot", "seq": S, "incidents": [...]}`` once on connect (and on ``resync``),
  then ``{"type": "delta", "seq": N, "kind": "incident", "incident": {...}}`` with N > S strictly
  increasing. A client that sees a gap in ``seq`` sends ``{"type": "resync"}``.
Client → server: ``{"type": "ping"}`` (answered ``pong``), ``{"type": "resync"}``.
A client too slow to keep up is closed with 1013 so that it reconnects to a fresh snapshot,
rather than slowing every other operator down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from infra.aio import cancel_and_wait
from infra.runtime import Runtime
from streams.publish import CONSOLE_CHANNEL
from streams.store import Store

log = logging.getLogger(__name__)
_CLIENT_QUEUE = 10_000
_SLOW_CLIENT_CLOSE = 1013


class ConsoleHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store = Store()
        self._clients: set[asyncio.Queue[list[dict[str, Any]] | None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._pump(ready), name="console-hub")
        await ready.wait()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        for queue in list(self._clients):
            queue.put_nowait(None)

    async def _pump(self, ready: asyncio.Event) -> None:
        while True:
            subscription = self.runtime.pubsub.subscribe(CONSOLE_CHANNEL)
            try:
                first = asyncio.ensure_future(anext(subscription))
                await asyncio.sleep(0)  # let the subscription register before we say ready
                ready.set()
                batch = await first
                while True:
                    self._fan_out(batch)
                    batch = await anext(subscription)
            except asyncio.CancelledError:
                raise
            except Exception:
                ready.set()
                log.exception("console subscription failed; resubscribing in 1 s")
                await asyncio.sleep(1)
            finally:
                await subscription.aclose()

    def _fan_out(self, batch: list[dict[str, Any]]) -> None:
        for queue in list(self._clients):
            if queue.qsize() >= _CLIENT_QUEUE:
                self._clients.discard(queue)
                queue.put_nowait(None)  # the client's sender closes it as too slow
                continue
            queue.put_nowait(batch)

    def _snapshot(self) -> dict[str, Any]:
        with self.runtime.sessions() as session, session.begin():
            seq = self.store.last_seq(session)
            incidents = self.store.list_incidents(session)
        return {"type": "snapshot", "seq": seq, "incidents": [i.to_json() for i in incidents]}

    async def serve(self, websocket: WebSocket) -> None:
        queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()
        # Register before the snapshot so no delta falls between the two; duplicates are
        # filtered by seq below.
        self._clients.add(queue)
        self.runtime.metrics.console_clients.inc()
        try:
            seq = await self._send_snapshot(websocket)
            receiver = asyncio.create_task(self._receive(websocket, queue))
            try:
                while True:
                    batch = await queue.get()
                    if batch is None:
                        await websocket.close(code=_SLOW_CLIENT_CLOSE, reason="too slow; reconnect")
                        return
                    for message in batch:
                        if message.get("type") == "resync":
                            seq = await self._send_snapshot(websocket)
                        elif message.get("type") == "pong":
                            await websocket.send_json(message)
                        elif int(message.get("seq", 0)) > seq:
                            seq = int(message["seq"])
                            await websocket.send_json(message)
            finally:
                receiver.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away; nothing to clean beyond the finally below
        finally:
            self._clients.discard(queue)
            self.runtime.metrics.console_clients.dec()

    async def _send_snapshot(self, websocket: WebSocket) -> int:
        snapshot = await asyncio.to_thread(self._snapshot)
        await websocket.send_json(snapshot)
        return int(snapshot["seq"])

    async def _receive(
        self, websocket: WebSocket, queue: asyncio.Queue[list[dict[str, Any]] | None]
    ) -> None:
        """Client requests are turned into queue items so one task owns the socket's writes."""
        try:
            while True:
                message = await websocket.receive_json()
                kind = message.get("type") if isinstance(message, dict) else None
                if kind == "ping":
                    queue.put_nowait([{"type": "pong"}])
                elif kind == "resync":
                    queue.put_nowait([{"type": "resync"}])
        except (WebSocketDisconnect, RuntimeError, ValueError):
            queue.put_nowait(None)
