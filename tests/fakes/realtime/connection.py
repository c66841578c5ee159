"""One realtime WebSocket connection of the fake: session state, conversation items, client events, responses.

Runs entirely on the fake server's event loop. Test code reaches it through `RealtimeFake` (thread-safe).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import inspect
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.common.audio import bytes_to_ms
from tests.fakes.common.ids import new_id
from tests.fakes.common.sdk_types import Issue, validate_client_event, validate_server_event
from tests.fakes.common.vad import EnergyVad
from tests.fakes.realtime.brain import ResponsePlan, ResponseRequest, SessionView
from tests.fakes.realtime.session_config import (
    default_session,
    input_format,
    merge_session,
    output_voice,
    transcription,
    turn_detection,
)
from tests.fakes.realtime.stream import ResponseRecord, ResponseRun, StreamOptions

if TYPE_CHECKING:  # pragma: no cover
    from starlette.websockets import WebSocket

    from tests.fakes.realtime.fake import RealtimeFake

__all__ = ["ConnectionOptions", "RealtimeConnection", "SESSION_EXPIRED_MESSAGE"]

SESSION_EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."


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


class RealtimeConnection:
    """Server side of one `/v1/realtime` WebSocket."""

    def __init__(
        self,
        hub: RealtimeFake,
        websocket: WebSocket,
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

    # ---- plumbing -----------------------------------------------------------------------------------
    def spawn(self, coro: Any) -> asyncio.Task[Any]:
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

    # ---- lifecycle ----------------------------------------------------------------------------------
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

    # ---- client events ------------------------------------------------------------------------------
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

    def _find(self, item_id: str) -> dict[str, Any] | None:
        return next((i for i in self.items if i.get("id") == item_id), None)

    async def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = copy.deepcopy(event["item"])
        previous = event.get("previous_item_id")
        if item.get("type") == "function_call_output":
            call_id = item.get("call_id")
            if not any(i.get("type") == "function_call" and i.get("call_id") == call_id for i in self.items):
                await self.error(
                    "invalid_tool_call_id", f"Tool call ID '{call_id}' not found in conversation.", client_event=event
                )
                return
        if item.get("id") and self._find(item["id"]) is not None:
            await self.error(
                "invalid_value", f"Item with id '{item['id']}' already exists.", param="item.id", client_event=event
            )
            return
        if previous not in (None, "root") and self._find(previous) is None:
            await self.error(
                "invalid_value",
                f"Previous item with id '{previous}' not found.",
                param="previous_item_id",
                client_event=event,
            )
            return
        item.setdefault("id", new_id("item"))
        item["object"] = "realtime.item"
        item.setdefault("status", "completed")
        prev_id = self.add_item(item, previous)
        await self.emit_item_added(item, prev_id)
        await self.emit_item_done(item)

    async def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item = self._find(event["item_id"])
        if item is None:
            await self.error(
                "invalid_value",
                f"Item with item_id '{event['item_id']}' not found.",
                param="item_id",
                client_event=event,
            )
            return
        self.items.remove(item)
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._find(event["item_id"])
        if item is None:
            await self.error(
                "invalid_value",
                f"Item with item_id '{event['item_id']}' not found.",
                param="item_id",
                client_event=event,
            )
            return
        await self.send({"type": "conversation.item.retrieved", "item": copy.deepcopy(item)})

    async def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, content_index, end_ms = event["item_id"], event["content_index"], event["audio_end_ms"]
        item = self._find(item_id)
        if item is None:
            await self.error(
                "invalid_value", f"Item with item_id '{item_id}' not found.", param="item_id", client_event=event
            )
            return
        if item.get("role") != "assistant" or item_id not in self.output_audio_ms:
            await self.error(
                "invalid_value",
                "Only model output audio messages can be truncated.",
                param="item_id",
                client_event=event,
            )
            return
        if content_index != 0:
            await self.error(
                "invalid_value",
                f"Invalid value: {content_index}. Content index out of range.",
                param="content_index",
                client_event=event,
            )
            return
        duration = int(self.output_audio_ms[item_id])
        if end_ms > duration:
            # Real: the refusal (with error.event_id null) and the truncation applied at the audio's end anyway.
            await self.error(
                "invalid_value",
                f"Audio content of {duration}ms is already shorter than {end_ms}ms",
                param="audio_end_ms",
                client_event=event,
                echo_event_id=False,
            )
            end_ms = duration
        self.hub._record_truncation(self.index, item_id, content_index, end_ms)
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": end_ms,
            }
        )

    async def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            pcm = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            await self.error(
                "invalid_value",
                "Invalid 'audio'. Expected base64-encoded audio data.",
                param="audio",
                client_event=event,
            )
            return
        await self.feed_input_audio(pcm)

    async def feed_input_audio(self, pcm: bytes) -> None:
        """The person's audio, from `input_audio_buffer.append` or a WebRTC call's microphone track."""
        self.hub._record_audio(len(pcm), self.index)
        self.input_buffer_bytes += len(pcm)
        self.input_audio_total_ms += bytes_to_ms(len(pcm))
        td = turn_detection(self.session)
        if self.vad is not None and td is not None and input_format(self.session).get("type") == "audio/pcm":
            for vad_event in self.vad.feed(pcm, int(td.get("silence_duration_ms") or 500)):
                if vad_event.kind == "start":
                    self._speech_item, self._speech_start_ms = new_id("item"), vad_event.ms
                    await self.begin_user_speech(self._speech_item, vad_event.ms)
                elif self._speech_item is not None:
                    item_id, self._speech_item = self._speech_item, None
                    words = self.pending_transcripts.popleft() if self.pending_transcripts else ""
                    await self.end_user_speech(
                        item_id, words, vad_event.ms, None, audio_ms=vad_event.ms - self._speech_start_ms
                    )

    async def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        buffered = bytes_to_ms(self.input_buffer_bytes)
        if buffered < 100:
            await self.error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered:.2f}ms of audio.",
                client_event=event,
            )
            return
        words = self.pending_transcripts.popleft() if self.pending_transcripts else ""
        await self._commit_user_audio(new_id("item"), words, buffered, transcribe=None, timing="before_response")

    async def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self.input_buffer_bytes = 0
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        await self.error(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            param="type",
            client_event=event,
        )

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        params = copy.deepcopy(event.get("response") or {})
        if params.get("conversation", "auto") != "none" and self.active is not None:
            await self.error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. Wait until the "
                "response is finished before creating a new one.",
                client_event=event,
                kind="violation",
            )
            return
        await self.start_response("client", params, event.get("event_id"))

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        runs = [r for r in [self.active, *self.out_of_band] if r is not None and not r.cancelled]
        target = next((r for r in runs if wanted is None or r.id == wanted), None)
        if target is None or (wanted is None and target is not self.active):
            await self.error(
                "response_cancel_not_active", "Cancellation failed: no active response found.", client_event=event
            )
            return
        target.cancel("client_cancelled")

    # ---- conversation -------------------------------------------------------------------------------
    def add_item(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Insert `item` (after `previous_item_id`, at the start for "root", else at the end); returns the id
        of the item before it."""
        if previous_item_id == "root":
            self.items.insert(0, item)
            return None
        if previous_item_id is not None:
            prev = self._find(previous_item_id)
            if prev is not None:
                self.items.insert(self.items.index(prev) + 1, item)
                return previous_item_id
        before = self.items[-1]["id"] if self.items else None
        self.items.append(item)
        return before

    async def emit_item_added(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        legacy = self.options.legacy_item_events
        if legacy != "only":
            await self.send(
                {"type": "conversation.item.added", "previous_item_id": previous_item_id, "item": copy.deepcopy(item)}
            )
        if legacy:
            await self.send(
                {"type": "conversation.item.created", "previous_item_id": previous_item_id, "item": copy.deepcopy(item)}
            )

    async def emit_item_done(self, item: dict[str, Any]) -> None:
        if self.options.legacy_item_events != "only":
            previous = None
            for i, candidate in enumerate(self.items):
                if candidate is item and i > 0:
                    previous = self.items[i - 1]["id"]
            await self.send(
                {"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)}
            )

    def add_output_audio(self, item_id: str, ms: float) -> None:
        self.output_audio_ms[item_id] = self.output_audio_ms.get(item_id, 0.0) + ms

    def view(self) -> SessionView:
        return SessionView(
            session=copy.deepcopy(self.session),
            items=copy.deepcopy(self.items),
            transcripts=dict(self.transcripts),
            session_number=self.index,
        )

    def estimate_input_tokens(self, request: ResponseRequest) -> tuple[int, int]:
        """(text tokens, audio tokens) the model would read for `request` (about 4 characters per token)."""
        view = self.view()
        chars = len(request.instructions) + len(json.dumps(request.tools))
        audio_ms = 0.0
        for item in view.context(request):
            chars += len(view.item_text(item)) + len(str(item.get("arguments", "")))
            audio_ms += self.user_audio_ms.get(str(item.get("id")), 0.0) + self.output_audio_ms.get(
                str(item.get("id")), 0.0
            )
        return max(1, math.ceil(chars / 4)), math.ceil(audio_ms / 100)

    # ---- responses ----------------------------------------------------------------------------------
    def _request(self, trigger: str, params: dict[str, Any], event_id: str | None) -> ResponseRequest:
        session = self.session
        return ResponseRequest(
            trigger=trigger,  # type: ignore[arg-type]
            params=params,
            event_id=event_id,
            instructions=params.get("instructions", session.get("instructions") or ""),
            tool_choice=params.get("tool_choice", session.get("tool_choice", "auto")),
            tools=list(params.get("tools", session.get("tools") or [])),
            conversation=params.get("conversation") or "auto",
            input=params.get("input"),
            output_modalities=list(params.get("output_modalities") or session.get("output_modalities") or ["audio"]),
        )

    async def start_response(self, trigger: str, params: dict[str, Any], event_id: str | None) -> ResponseRun:
        """Create a response (the caller checked that it may), ask the brain for its plan, and stream it."""
        request = self._request(trigger, params, event_id)
        record = ResponseRecord(
            id=new_id("resp"),
            session=self.index,
            trigger=trigger,
            request=params,
            instructions=request.instructions,
            tool_choice=request.tool_choice,
            plan=None,
        )
        run = ResponseRun(self, request, ResponsePlan(), record)
        if run.in_conversation:
            self.active = run
        else:
            self.out_of_band.add(run)
        self.hub._record_response(record)
        try:
            plan = self.hub.brain(self.view(), request)
            if inspect.isawaitable(plan):
                plan = await plan
            if not isinstance(plan, ResponsePlan):
                raise TypeError(f"brain returned {type(plan).__name__}, expected ResponsePlan")
        except Exception as exc:
            self.hub._record_internal_error(self.index, exc)
            plan = ResponsePlan.fail(message=f"FakeOpenAI brain error: {exc!r}")
        run.plan = plan
        record.plan = plan
        self.spawn(run.run())
        return run

    def response_finished(self, run: ResponseRun) -> None:
        if self.active is run:
            self.active = None
        self.out_of_band.discard(run)

    def note_stream_error(self, run: ResponseRun, exc: Exception) -> None:
        if not isinstance(exc, (ConnectionGone, asyncio.CancelledError)) and not self.closed:
            self.hub._record_internal_error(self.index, exc)

    # ---- the person speaking (server VAD) -----------------------------------------------------------
    def _audio_clock_ms(self) -> int:
        return int(max(self.input_audio_total_ms, (time.monotonic() - self.connected_at) * 1000))

    async def begin_user_speech(self, item_id: str, start_ms: int) -> None:
        """`input_audio_buffer.speech_started`, and barge-in: cancel the active response if configured."""
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": start_ms, "item_id": item_id})
        td = turn_detection(self.session) or {}
        if self.active is not None and td.get("interrupt_response", True):
            run = self.active
            run.cancel("turn_detected")
            await run.done.wait()

    async def end_user_speech(
        self,
        item_id: str,
        words: str,
        end_ms: int,
        transcribe: bool | None,
        timing: str = "before_response",
        audio_ms: float | None = None,
    ) -> None:
        """`speech_stopped`, commit, the user item, its transcription, then the automatic response."""
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item_id})
        await self._commit_user_audio(
            item_id,
            words,
            audio_ms if audio_ms is not None else 0.0,
            transcribe=transcribe,
            timing=timing,
            auto_response=True,
        )

    async def _commit_user_audio(
        self,
        item_id: str,
        words: str,
        audio_ms: float,
        *,
        transcribe: bool | None,
        timing: str,
        auto_response: bool = False,
    ) -> None:
        previous = self.items[-1]["id"] if self.items else None
        self.input_buffer_bytes = 0
        await self.send({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.transcripts[item_id] = words
        self.user_audio_ms[item_id] = audio_ms
        prev_id = self.add_item(item)
        await self.emit_item_added(item, prev_id)
        await self.emit_item_done(item)
        do_transcribe = transcription(self.session) is not None if transcribe is None else transcribe
        if do_transcribe and timing != "after_response":
            await self._transcribe(item, words)
        td = turn_detection(self.session)
        if auto_response and td is not None and td.get("create_response", True):
            if self.active is not None:
                await self.active.done.wait()
            if not self.closed:
                await self.start_response("vad", {}, None)
        if do_transcribe and timing == "after_response":
            await self._transcribe(item, words)

    async def _transcribe(self, item: dict[str, Any], words: str) -> None:
        item_id = item["id"]
        for i, word in enumerate(words.split()):
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": word if i == 0 else " " + word,
                }
            )
        item["content"][0]["transcript"] = words
        audio_tokens = max(1, math.ceil(self.user_audio_ms.get(item_id, 0.0) / 100))
        text_tokens = max(1, math.ceil(len(words) / 4))
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": words,
                "usage": {
                    "type": "tokens",
                    "input_tokens": audio_tokens,
                    "output_tokens": text_tokens,
                    "total_tokens": audio_tokens + text_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                },
            }
        )

    async def user_turn(self, words: str, audio_ms: int, *, transcribe: bool | None, timing: str, pace: bool) -> None:
        """The person says `words` (`audio_ms` long): the full server-VAD sequence and automatic response.

        Without turn detection (VAD off) the words are kept for the client's next `input_audio_buffer.commit`.
        """
        if turn_detection(self.session) is None:
            self.pending_transcripts.append(words)
            return
        item_id = new_id("item")
        start = self._audio_clock_ms()
        await self.begin_user_speech(item_id, start)
        if pace:
            await asyncio.sleep(audio_ms / 1000)
        self.input_audio_total_ms = max(self.input_audio_total_ms, start + audio_ms)
        await self.end_user_speech(item_id, words, start + audio_ms, transcribe, timing, audio_ms)
