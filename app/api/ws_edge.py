"""The WebSocket edge both sockets (/ws/team, /ws/voice) share: reading frames, decoding a JSON message, the
error a client gets for bad input (always with an ErrorCode, and the connection lives on), the refusal of a
connection that cannot start, and the bounded writer that closes on a client that stopped reading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from agents.events import ErrorCode
from app.core.protocol import printable

CLOSE_POLICY = 1008  # the request itself is refused (bad token, bad parameters)
CLOSE_TRY_AGAIN = 1013  # full, or the client fell behind: it may reconnect later
Outgoing = dict[str, Any] | bytes | str


class ClientError(Exception):
    """Bad input or a refused message: the client gets an `error` with this code; the connection stays open."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def client_frames(websocket: WebSocket) -> AsyncIterator[dict[str, Any]]:
    """Each frame the client sends (an ASGI `websocket.receive` message with `text` or `bytes`), until it
    disconnects or the connection breaks."""
    while True:
        try:
            frame = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if frame["type"] == "websocket.disconnect":
            return
        yield dict(frame)


def decode_json(text: str, max_bytes: int) -> dict[str, Any]:
    """The JSON object a text frame holds, with a `type` field that is a string; else ClientError."""
    if len(text) > max_bytes // 4 and len(text.encode("utf-8")) > max_bytes:
        raise ClientError(ErrorCode.FRAME_TOO_LARGE, f"Frame larger than {max_bytes} bytes.")
    try:
        payload = json.loads(text)
    except ValueError:
        raise ClientError(ErrorCode.INVALID_JSON, "The frame is not valid JSON.") from None
    except RecursionError:
        raise ClientError(ErrorCode.INVALID_MESSAGE, "The JSON is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise ClientError(ErrorCode.INVALID_MESSAGE, "Expected a JSON object with a 'type' field.")
    return payload


def message_type(payload: dict[str, Any], known: frozenset[str] | set[str]) -> str:
    """The payload's `type`, when it is one of `known` (a list or an object is not: it is not hashable)."""
    kind = payload.get("type")
    if kind is None:
        raise ClientError(ErrorCode.INVALID_MESSAGE, "Missing field 'type'.")
    if not isinstance(kind, str) or kind not in known:
        shown = str(kind)[:40]
        raise ClientError(
            ErrorCode.UNKNOWN_TYPE, f"Unknown message type '{shown}'. Known types: {', '.join(sorted(known))}."
        )
    return kind


def invalid(exc: ValidationError) -> ClientError:
    """A pydantic validation failure as the client sees it: the first three problems, by field."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"][1:] if p is not None) or "message"
        parts.append(f"{where}: {error['msg']}")
    return ClientError(ErrorCode.INVALID_MESSAGE, "Invalid message: " + "; ".join(parts))


async def refuse(websocket: WebSocket, error: str, close_code: int) -> None:
    """A connection that cannot start (no session, no call, too many): one error frame, then the close."""
    try:
        await websocket.send_text(error)
        await websocket.close(code=close_code)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return


class BoundedOutbox:
    """What the server says to one client, in order, at most `limit` frames ahead of the socket. A client that
    stops reading does not make the server hold its frames: the writer closes the socket (1013) instead."""

    def __init__(self, limit: int, queue: asyncio.Queue[Outgoing | None] | None = None) -> None:
        self.limit = limit
        self.queue: asyncio.Queue[Outgoing | None] = queue if queue is not None else asyncio.Queue()
        self.overflowed = False

    def __call__(self, message: Outgoing) -> None:
        if self.queue.qsize() >= self.limit:
            self.overflowed = True
            return
        self.queue.put_nowait(message)

    def end(self) -> None:
        self.queue.put_nowait(None)

    async def write(
        self, websocket: WebSocket, on_close: Callable[[], str] = lambda: "the page stopped reading"
    ) -> None:
        """Sends until end() (or the queue's owner puts None); a dict is sent as JSON text."""
        try:
            while (message := await self.queue.get()) is not None:
                if self.overflowed:
                    await websocket.close(code=CLOSE_TRY_AGAIN, reason=on_close())
                    return
                await send(websocket, message)
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            return


async def send(websocket: WebSocket, message: Outgoing) -> None:
    """One frame: bytes as binary, text and dicts as text. Lone surrogates (a JSON API's "\\ud800", decoded)
    cannot be sent as UTF-8, so text is made printable first."""
    if isinstance(message, bytes):
        await websocket.send_bytes(message)
        return
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    await websocket.send_text(printable(text))


async def finish(task: asyncio.Task[None]) -> None:
    """Cancels a connection's writer (if it is still going) and waits for it, whatever it raised."""
    if not task.done():
        task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the connection is over either way
        pass
