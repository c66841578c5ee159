"""One Realtime WebSocket of the fake, its plumbing: session state, sending checked server events, errors shaped
like the real ones, the receive loop that validates each client event and hands it to its `_on_<type>` handler,
expiry, close and drop, and `session.update`. The other handlers are added by the classes built on it
(items.py, responses.py, connection.py).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tests.fakes.common.ids import new_id
from tests.fakes.common.sdk_types import Issue
from tests.fakes.common.vad import EnergyVad
from tests.fakes.realtime.session_config import (
    default_session,
    merge_session,
    output_voice,
)
from tests.fakes.realtime.stream import ResponseRun, StreamOptions
from tests.fakes.realtime.validation import validate_client_event, validate_server_event

if TYPE_CHECKING:  # pragma: no cover
    from tests.fakes.realtime.fake import RealtimeFake

__all__ = ["ConnectionGone", "ConnectionOptions", "RealtimeSocket", "SESSION_EXPIRED_MESSAGE"]

SESSION_EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."


class ServerSocket(Protocol):
    """What a connection needs of its socket: Starlette's WebSocket, or a WebRTC call's (webrtc/calls.py)."""

    async def receive(self) -> Mapping[str, Any]: ...

    async def send_text(self, data: str, /) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class ConnectionGone(Exception):
    """The WebSocket is closed; nothing can be sent any more."""


@dataclass
class ConnectionOptions:
    """Per-connection behaviour, set on `FakeOpenAI(...)`."""

    legacy_item_events: bool | str = False
    """True: also send `conversation.item.created` (older server); "only": send it instead of added/done."""
    session_expiry_s: float | None = None
    """Send the real `session_expired` error and close (1001) this many seconds after connecting."""
    validate_server_events: bool = True
    stream: StreamOptions = field(default_factory=StreamOptions)


class RealtimeSocket:
    """Server side of one `/v1/realtime` WebSocket: plumbing, lifecycle, client events, session.update."""

    def __init__(
        self,
        hub: RealtimeFake,
        websocket: ServerSocket,
        *,
        index: int,
        model: str,
        transport: Any,
        options: ConnectionOptions,
    ) -> None:
        self.hub = hub
        self.ws = websocket
        self.index = index
        """Session number: 1 for the first connection, 2 for the next, ..."""
        self.model = model
        self.transport = transport
        self.options = options
        self.stream_options = options.stream
        self.connected_at = time.monotonic()
        self.session_id = new_id("sess")
        self.conversation_id = new_id("conv")
        expires = int(time.time() + (options.session_expiry_s if options.session_expiry_s else 3600))
        self.session: dict[str, Any] = default_session(session_id=self.session_id, model=model, expires_at=expires)
        self.items: list[dict[str, Any]] = []
        self.transcripts: dict[str, str] = {}
        self.user_audio_ms: dict[str, float] = {}
        self.output_audio_ms: dict[str, float] = {}
        self.active: ResponseRun | None = None
        self.out_of_band: set[ResponseRun] = set()
        self.input_buffer_bytes = 0
        self.input_audio_total_ms = 0.0
        self.pending_transcripts: deque[str] = deque()
        self.vad: EnergyVad | None = None
        self._speech_item: str | None = None
        self._speech_start_ms = 0
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False
        self.drop_before: Callable[[Any], bool] | None = None
        """Drop the TCP connection when a client event matching this arrives, before handling it."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def send(self, event: dict[str, Any], *, validate: bool = True) -> None:
        """Send one server event (an `event_id` is added), after checking it against the SDK's types."""
        body = {k: v for k, v in event.items() if k not in ("type", "event_id")}
        full = {"type": event["type"], "event_id": event.get("event_id") or new_id("event"), **body}
        if validate and self.options.validate_server_events:
            problems = validate_server_event(full)
            if problems:
                self.hub._record_invalid_server_event(self.index, full, problems)
        if self.closed:
            raise ConnectionGone(full["type"])
        async with self._send_lock:
            self.hub._record_server_event(self.index, full)
            try:
                await self.ws.send_text(json.dumps(full))
            except Exception as exc:
                self.closed = True
                raise ConnectionGone(str(exc)) from exc

    async def error(
        self,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        client_event: Any = None,
        echo_event_id: bool = True,
        kind: str = "rejected",
    ) -> None:
        """Send an `error` event shaped like the real one and record it (`rejected` or `violations`)."""
        client_event_id = client_event.get("event_id") if isinstance(client_event, dict) and echo_event_id else None
        error = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        }
        if kind == "violation":
            self.hub._record_violation(self.index, code or "error", message, client_event)
        elif kind == "rejected":
            self.hub._record_rejected(self.index, client_event, Issue(code or "", param, message))
        await self.send({"type": "error", "error": error})

    async def run(self) -> None:
        """Greet with `session.created`, then handle client events until the socket closes."""
        try:
            await self.send({"type": "session.created", "session": copy.deepcopy(self.session)})
            if self.options.session_expiry_s is not None:
                self.spawn(self._expire_after(self.options.session_expiry_s))
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                if text is not None:
                    await self.handle_text(text)
        except ConnectionGone:
            pass
        except Exception as exc:  # a disconnect surfacing as another exception type
            if not self.closed:
                self.hub._record_internal_error(self.index, exc)
        finally:
            self.closed = True
            for run in [self.active, *self.out_of_band]:
                if run is not None:
                    run.cancel("client_cancelled")
            for task in list(self._tasks):
                task.cancel()
            self.hub._connection_closed(self)

    async def _expire_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.expire()

    async def expire(self) -> None:
        """The real end of a session: a `session_expired` error, then a 1001 close with the same reason."""
        try:
            await self.error("session_expired", SESSION_EXPIRED_MESSAGE, kind="none")
        except ConnectionGone:
            return
        await self.close(1001, SESSION_EXPIRED_MESSAGE)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.ws.close(code=code, reason=reason)
        except Exception:
            pass

    async def drop(self, mode: str = "abort", code: int = 1011, reason: str = "") -> None:
        """Lose the connection: "abort" resets TCP (the client sees 1006), "close" sends a close frame `code`."""
        if mode == "abort" and self.transport is not None:
            self.closed = True
            self.transport.abort()
            return
        await self.close(code, reason)

    async def handle_text(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError as exc:
            self.hub._record_client_event(self.index, {"type": None, "raw": text})
            await self.error("invalid_json", f"Invalid JSON in event: {exc}.", client_event=None)
            return
        if self.drop_before is not None and self.drop_before(event):
            self.drop_before = None
            self.hub._record_dropped_event(self.index, event)
            await self.drop()
            return
        self.hub._record_client_event(self.index, event)
        issues = validate_client_event(event)
        if issues:
            first = issues[0]
            self.hub._record_rejected(self.index, event, first, issues)
            client_event_id = event.get("event_id") if isinstance(event, dict) else None
            await self.send(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "code": first.code,
                        "message": first.message,
                        "param": first.param,
                        "event_id": client_event_id if isinstance(client_event_id, str) else None,
                    },
                }
            )
            return
        handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
        await handler(event)

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        if update.get("type") != "realtime":
            await self.error(
                "invalid_value",
                f"Invalid value: '{update.get('type')}'. Supported values are: 'realtime'.",
                param="session.type",
                client_event=event,
            )
            return
        new_voice = ((update.get("audio") or {}).get("output") or {}).get("voice")
        if new_voice is not None and new_voice != output_voice(self.session) and self.output_audio_ms:
            await self.error(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                param="session.audio.output.voice",
                client_event=event,
            )
            return
        merged = merge_session(self.session, update)
        for fixed in ("id", "object", "expires_at", "model"):
            merged[fixed] = self.session[fixed]
        self.session = merged
        self.hub._record_session_update(self.index, update)
        await self.send({"type": "session.updated", "session": copy.deepcopy(self.session)})
