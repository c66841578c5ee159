"""Server side of one fake GPT-Live WebSocket (`/v1/live/sessions`), as strict as the real service:
- `session.start` (strict config) first, answered with `session.started`; anything before it is refused;
- every client event validated with the SDK's `openai.types.live` types plus unknown keys (live_validation);
- a delegation id is valid only on the connection that created it; client delegation has no response.* or
  decision.* commands (`response.item.create` "requires Responses delegation");
- thinking/commentary are acknowledged (`session.*.appended` with the client's event_id) and cancel a pending
  spoken acknowledgement; commentary is spoken (output audio and transcript deltas).
The scripted person (LiveFake.say) arrives as `session.input_transcript.delta` events, then a delegation.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from tests.fakes.common.audio import BYTES_PER_MS, pcm16_b64
from tests.fakes.common.ids import new_id
from tests.fakes.common.sdk_types import Issue
from tests.fakes.live.validation import validate_live_client_event, validate_live_server_event
from tests.fakes.realtime.brain import first_sentence

if TYPE_CHECKING:
    from tests.fakes.live.fake import LiveFake

ACK_TEXT = "One moment, I'll ask the team."
CHUNK_MS = 100


class Gone(Exception):
    """The socket is closed; nothing more can be sent."""


@dataclass
class LiveOptions:
    ms_per_word: int = 60
    delta_interval_s: float = 0.002
    realistic_pacing: bool = False
    """Stream speech at about real time (one chunk per chunk_ms) instead of delta_interval_s."""
    chunk_ms: int = CHUNK_MS
    ack_text: str = ACK_TEXT
    session_expiry_s: float | None = None
    """Close each session (session.closed, reason "expired") this long after it starts, like the 2 h limit."""


@dataclass
class Spoken:
    session: int
    text: str
    cause: str  # "acknowledgement" | "commentary"
    delegation_id: str | None
    audio_bytes: int = 0
    at: float = field(default_factory=time.monotonic)


class LiveConnection:
    def __init__(self, hub: LiveFake, websocket: WebSocket, *, index: int, transport: Any) -> None:
        self.hub = hub
        self.ws = websocket
        self.index = index
        self.transport = transport
        self.options = hub.options
        self.session_id = new_id("sess")
        self.config: dict[str, Any] | None = None
        self.delegations: set[str] = set()
        self.pending_ack: dict[str, asyncio.TimerHandle] = {}
        self.started_at = time.monotonic()
        self.drop_before: str | None = None
        self.closed = False
        self._send_lock = asyncio.Lock()
        self._speech_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- plumbing -----------------------------------------------------------------------------------
    def clock_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, event: dict[str, Any]) -> None:
        problems = validate_live_server_event(event)
        if problems:
            self.hub._record("invalid_server_events", (self.index, event, problems))
        if self.closed:
            raise Gone(event["type"])
        async with self._send_lock:
            self.hub._record("server_events", (self.index, event))
            try:
                await self.ws.send_text(json.dumps(event))
            except Exception as exc:
                self.closed = True
                raise Gone(str(exc)) from exc

    async def error(self, event: Any, issue: Issue, *, violation: str | None = None) -> None:
        client_event_id = event.get("event_id") if isinstance(event, dict) else None
        self.hub._record("rejected", (self.index, event, issue))
        if violation:
            self.hub._record("violations", (self.index, violation, issue.message))
        error = {"type": "invalid_request_error", "code": issue.code, "message": issue.message, "param": issue.param}
        if client_event_id:
            error["client_event_id"] = client_event_id
        await self.send({"type": "error", "event_id": new_id("event"), "error": error})

    def resource(self) -> dict[str, Any]:
        config = {k: v for k, v in (self.config or {}).items() if k != "input"}
        expires = int(time.time() + (self.options.session_expiry_s or 7200))
        return {**config, "id": self.session_id, "expires_at": expires, "status": "active"}

    # ---- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                if text is not None:
                    await self.handle_text(text)
        except Gone:
            pass
        except Exception as exc:
            if not self.closed:
                self.hub._record("internal_errors", (self.index, exc))
        finally:
            self.closed = True
            for timer in self.pending_ack.values():
                timer.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def drop(self) -> None:
        """Lose the TCP connection (the client sees 1006), no close frame."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        else:
            await self.ws.close(code=1011)

    def usage(self) -> dict[str, float]:
        """`SessionUsage`: the session's cumulative duration (what GPT-Live bills), not an increment."""
        return {"seconds": round(time.monotonic() - self.started_at, 3)}

    async def report_usage(self) -> None:
        """`session.usage.updated`, as the service sends it as a session goes on (here: after each turn of either
        side)."""
        try:
            await self.send({"type": "session.usage.updated", "event_id": new_id("event"), "usage": self.usage()})
        except Gone:
            pass

    async def expire(self) -> None:
        """The session hit its duration limit: session.closed (reason expired), then the socket closes."""
        event = {
            "type": "session.closed",
            "event_id": new_id("event"),
            "reason": "expired",
            "session": self.resource(),
            "usage": self.usage(),
        }
        try:
            await self.send(event)
        except Gone:
            return
        self.closed = True
        try:
            await self.ws.close(code=1000, reason="session expired")
        except Exception:
            pass

    # ---- client events ------------------------------------------------------------------------------
    async def handle_text(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            await self.error(text, Issue("invalid_json", None, "The event is not valid JSON."))
            return
        kind = event.get("type") if isinstance(event, dict) else None
        if self.drop_before is not None and kind == self.drop_before:
            self.drop_before = None
            self.hub._record("dropped_events", (self.index, event))
            await self.drop()
            return
        self.hub._record("client_events", (self.index, event, time.time()))  # wall clock, like the clients
        issues = validate_live_client_event(event)
        if issues:
            await self.error(event, issues[0])
            return
        if self.config is None and kind != "session.start":
            await self.error(event, Issue("session_not_started", None, "Send session.start first."), violation="order")
            return
        handler = getattr(self, "_on_" + str(kind).replace(".", "_"), None)
        if handler is None:
            await self.error(
                event,
                Issue("invalid_request_error", "type", f"'{kind}' requires Responses or Decisions delegation."),
                violation="not_client_delegation",
            )
            return
        await handler(event)

    async def _on_session_start(self, event: dict[str, Any]) -> None:
        if self.config is not None:
            await self.error(event, Issue("session_already_started", None, "The session has already started."))
            return
        self.config = event["session"]
        self.hub._record("starts", (self.index, event["session"]))
        started = {"type": "session.started", "event_id": new_id("event"), "session": self.resource()}
        if event.get("event_id"):
            started["client_event_id"] = event["event_id"]
        await self.send(started)
        if self.options.session_expiry_s is not None:
            self.spawn(self._expire_after(self.options.session_expiry_s))

    async def _expire_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.expire()

    async def _on_session_input_audio_append(self, event: dict[str, Any]) -> None:
        self.hub._record_audio(self.index, len(event["audio"]) * 3 // 4)

    async def feed_input_audio(self, pcm: bytes) -> None:
        """The person's audio from a WebRTC call's microphone track; reflected to the call's sideband as a
        `session.input_audio.append` server event (no timestamps, no event_id), as GPT-Live does."""
        self.hub._record_audio(self.index, len(pcm))
        if getattr(self.ws, "reflect_clock", None) is not None:
            reflected = {"type": "session.input_audio.append", "audio": base64.b64encode(pcm).decode()}
            problems = validate_live_server_event(reflected)
            if problems:
                self.hub._record("invalid_server_events", (self.index, reflected, problems))
            await self.ws.to_sideband(json.dumps(reflected))  # type: ignore[attr-defined]  # a call's CallSocket

    async def _appended(self, event: dict[str, Any], kind: str) -> bool:
        delegation_id = event.get("delegation_id")
        if delegation_id is not None and delegation_id not in self.delegations:
            known = delegation_id in self.hub.all_delegations()
            message = (
                "The delegation belongs to another connection." if known else f"Unknown delegation '{delegation_id}'."
            )
            await self.error(
                event,
                Issue("invalid_value", "delegation_id", message),
                violation="foreign_delegation_id" if known else "unknown_delegation_id",
            )
            return False
        for timer in self.pending_ack.values():  # any thinking or commentary cancels pending acknowledgements
            timer.cancel()
        self.pending_ack.clear()
        now = self.clock_ms()
        ack = {"type": kind, "event_id": new_id("event"), "start_ms": now, "end_ms": now}
        if event.get("event_id"):
            ack["client_event_id"] = event["event_id"]
        await self.send(ack)
        return True

    async def _on_session_thinking_append(self, event: dict[str, Any]) -> None:
        if await self._appended(event, "session.thinking.appended"):
            self.hub._record("thinking", (self.index, event["delegation_id"], event["content"]))

    async def _on_session_commentary_append(self, event: dict[str, Any]) -> None:
        if await self._appended(event, "session.commentary.appended"):
            self.hub._record("commentary", (self.index, event["delegation_id"], event["content"]))
            words = first_sentence(event["content"].split("Answer:", 1)[-1].strip())
            self.spawn(self.speak(words, "commentary", event["delegation_id"]))

    # ---- the model's side ---------------------------------------------------------------------------
    async def person_says(self, text: str, *, delegate: bool) -> str | None:
        """The person's words as input transcript deltas; then (delegate) a client delegation, and an
        acknowledgement spoken after acknowledgement_delay_ms unless thinking/commentary came first."""
        for word in text.split():
            start = self.clock_ms()
            await self.send(
                {
                    "type": "session.input_transcript.delta",
                    "event_id": new_id("event"),
                    "delta": word + " ",
                    "start_ms": start,
                    "end_ms": start + 200,
                }
            )
            await asyncio.sleep(self.options.delta_interval_s)
        await self.report_usage()
        if not delegate:
            return None
        delegation_id = new_id("dlg")
        self.delegations.add(delegation_id)
        self.hub._record("delegations", (self.index, delegation_id, text, time.monotonic()))
        await self.send(
            {
                "type": "session.delegation.created",
                "event_id": new_id("event"),
                "offset_ms": self.clock_ms(),
                "delegation": {"id": delegation_id, "target": "client", "type": "delegation"},
            }
        )
        delay = ((self.config or {}).get("delegation") or {}).get("acknowledgement_delay_ms") or 0
        loop = asyncio.get_running_loop()
        self.pending_ack[delegation_id] = loop.call_later(
            delay / 1000, lambda: self.spawn(self.speak(self.options.ack_text, "acknowledgement", delegation_id))
        )
        return delegation_id

    async def speak(self, text: str, cause: str, delegation_id: str | None) -> None:
        """Speech: output audio (ms_per_word of tone per word, in 100 ms chunks) and transcript deltas."""
        async with self._speech_lock:
            record = Spoken(self.index, text, cause, delegation_id)
            words = text.split()
            chunk_ms = self.options.chunk_ms
            total_ms = max(1, len(words)) * self.options.ms_per_word
            chunks = max(1, total_ms // chunk_ms)
            pause = chunk_ms / 1000 if self.options.realistic_pacing else self.options.delta_interval_s
            try:
                for i in range(chunks):
                    await self.send({"type": "session.output_audio.delta", "delta": pcm16_b64(chunk_ms)})
                    record.audio_bytes += chunk_ms * BYTES_PER_MS
                    share = words[i * len(words) // chunks : (i + 1) * len(words) // chunks]
                    if share:
                        now = self.clock_ms()
                        await self.send(
                            {
                                "type": "session.output_transcript.delta",
                                "event_id": new_id("event"),
                                "delta": " ".join(share) + " ",
                                "start_ms": now,
                                "end_ms": now + chunk_ms,
                            }
                        )
                    await asyncio.sleep(pause)
            except Gone:
                return
            self.hub._record("spoken", record)
            await self.report_usage()
