"""Reading a client's WebSocket frames, shared by /ws/team and /ws/voice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect


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
