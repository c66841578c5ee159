"""Stream one realtime response as the GA server does: created, output items with their deltas, done."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.common.audio import pcm16
from tests.fakes.common.ids import new_call_id, new_id
from tests.fakes.realtime.brain import SERVER_ERROR_MESSAGE, Call, ResponsePlan, ResponseRequest, Say

if TYPE_CHECKING:  # pragma: no cover
    from tests.fakes.realtime.responses import Responses

__all__ = ["ResponseRecord", "ResponseRun", "StreamOptions"]


@dataclass
class StreamOptions:
    """Pacing and audio of streamed responses."""

    delta_interval_s: float = 0.002
    """Pause between deltas (fast by default so tests run quickly)."""
    realistic_pacing: bool = False
    """Pace audio deltas at (about) real time instead of `delta_interval_s`."""
    ms_per_word: int = 60
    """Audio length produced per spoken word."""
    audio_delta_ms: int | None = None
    """Split each word's audio into deltas of this length (None: one delta per word), so speech can be paced
    at a natural word rate while audio still flows in short frames, as from the real service."""
    audio_kind: str = "tone"
    """"tone" (a quiet 440 Hz sine) or "silence"."""
    rate_limits: bool = True
    """Send `rate_limits.updated` after each `response.done`, like the real server."""
    echo_metadata: bool = True
    """False: leave `response.metadata` out of response events (some Realtime-compatible servers do)."""


@dataclass
class ResponseRecord:
    """What the fake observed about one response (see `RealtimeFake.responses`)."""

    id: str
    session: int
    trigger: str
    request: dict[str, Any]
    """The `response` object of `response.create` (`{}` for VAD responses)."""
    instructions: str
    tool_choice: Any
    plan: ResponsePlan | None
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    output: list[dict[str, Any]] = field(default_factory=list)
    transcript: str = ""
    """Everything spoken (or written) in this response, as actually streamed."""
    function_calls: list[tuple[str, str]] = field(default_factory=list)
    """(name, arguments JSON) of each function call the model made."""
    audio_ms: float = 0.0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None


class ResponseRun:
    """One active response of a connection; `run()` streams it, `cancel()` stops it like `response.cancel`."""

    def __init__(self, conn: Responses, request: ResponseRequest, plan: ResponsePlan, record: ResponseRecord) -> None:
        self.conn = conn
        self.request = request
        self.plan = plan
        self.record = record
        self.id = record.id
        self.in_conversation = request.conversation != "none"
        self.output: list[dict[str, Any]] = []
        self.cancel_reason: str | None = None
        self._cancel = asyncio.Event()
        self.done = asyncio.Event()
        self.text_only = request.output_modalities == ["text"]

    # ---- control ------------------------------------------------------------------------------------
    def cancel(self, reason: str = "client_cancelled") -> None:
        """Ask the stream to stop at the next delta; it then sends `response.done` with status cancelled."""
        if not self._cancel.is_set():
            self.cancel_reason = reason
            self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        try:
            await asyncio.wait_for(self._cancel.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # ---- shapes -------------------------------------------------------------------------------------
    def _response(self, status: str, details: dict[str, Any] | None, usage: dict[str, Any] | None) -> dict[str, Any]:
        session = self.conn.session
        audio_out = (session.get("audio") or {}).get("output") or {}
        voice = ((self.request.params.get("audio") or {}).get("output") or {}).get("voice") or audio_out.get("voice")
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": [dict(i) for i in self.output] if status != "in_progress" else [],
            "conversation_id": self.conn.conversation_id if self.in_conversation else None,
            "output_modalities": list(self.request.output_modalities),
            "max_output_tokens": self.request.params.get("max_output_tokens", session.get("max_output_tokens", "inf")),
            "audio": {
                "output": {
                    "format": dict(audio_out.get("format") or {"type": "audio/pcm", "rate": 24000}),
                    "voice": voice,
                }
            },
            "usage": usage,
            "metadata": self.request.params.get("metadata") if self.conn.stream_options.echo_metadata else None,
        }

    def _usage(self) -> dict[str, Any]:
        text_in, audio_in = self.conn.estimate_input_tokens(self.request)
        text_out = math.ceil(len(self.record.transcript) / 4) + sum(
            math.ceil((len(n) + len(a)) / 4) for n, a in self.record.function_calls
        )
        audio_out = math.ceil(self.record.audio_ms / 50)
        return {
            "total_tokens": text_in + audio_in + text_out + audio_out,
            "input_tokens": text_in + audio_in,
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    # ---- streaming ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Stream the whole response; always ends with `response.done` unless the socket is gone."""
        try:
            await self.conn.send({"type": "response.created", "response": self._response("in_progress", None, None)})
            if self.plan.delay_s:
                await self._pause(self.plan.delay_s)
            for output in self.plan.outputs:
                if self.cancelled:
                    break
                if isinstance(output, Say):
                    await self._stream_message(output)
                elif isinstance(output, Call):
                    await self._stream_call(output)
            await self._finish()
        except Exception as exc:  # the socket went away mid-stream: nothing more to send
            self.record.status = self.record.status if self.record.finished_at else "interrupted"
            self.conn.note_stream_error(self, exc)
        finally:
            self.record.finished_at = self.record.finished_at or time.time()
            self.conn.response_finished(self)
            self.done.set()

    async def _finish(self) -> None:
        details: dict[str, Any] | None
        if self.cancelled:
            status, details = "cancelled", {"type": "cancelled", "reason": self.cancel_reason}
        elif self.plan.failure is not None:
            failure = self.plan.failure
            message = failure.message or SERVER_ERROR_MESSAGE.format(session_id=self.conn.session_id)
            status = "failed"
            details = {"type": "failed", "error": {"type": failure.type, "code": failure.code, "message": message}}
        else:
            status, details = "completed", None
        self.record.status, self.record.status_details = status, details
        self.record.output = [dict(i) for i in self.output]
        usage = self._usage()
        self.record.finished_at = time.time()
        self.conn.response_finished(self)
        await self.conn.send({"type": "response.done", "response": self._response(status, details, usage)})
        if self.conn.stream_options.rate_limits:
            await self.conn.send(
                {
                    "type": "rate_limits.updated",
                    "rate_limits": [
                        {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                        {
                            "name": "tokens",
                            "limit": 800000,
                            "remaining": 800000 - usage["total_tokens"],
                            "reset_seconds": round(usage["total_tokens"] / 800000 * 60, 3),
                        },
                    ],
                }
            )

    async def _open_item(self, item: dict[str, Any]) -> int:
        output_index = len(self.output)
        self.output.append(item)
        previous = self.conn.add_item(item) if self.in_conversation else None
        await self.conn.send(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(item),
            }
        )
        if self.in_conversation:
            await self.conn.emit_item_added(item, previous)
        return output_index

    async def _close_item(self, item: dict[str, Any], output_index: int) -> None:
        await self.conn.send(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": output_index,
                "item": dict(item),
            }
        )
        if self.in_conversation:
            await self.conn.emit_item_done(item)

    async def _stream_message(self, say: Say) -> None:
        opts = self.conn.stream_options
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        index = await self._open_item(item)
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index, "content_index": 0}
        kind = "text" if self.text_only else "audio"
        key = "text" if self.text_only else "transcript"
        await self.conn.send({"type": "response.content_part.added", **ids, "part": {"type": kind, key: ""}})
        spoken = ""
        words = say.text.split()
        for i, word in enumerate(words):
            if self.cancelled:
                break
            piece = word if i == 0 else " " + word
            spoken += piece
            self.record.transcript = (
                (self.record.transcript + " " + piece).strip() if i == 0 else self.record.transcript + piece
            )
            if self.text_only:
                await self.conn.send({"type": "response.output_text.delta", **ids, "delta": piece})
                await self._pause(opts.delta_interval_s)
                continue
            await self.conn.send({"type": "response.output_audio_transcript.delta", **ids, "delta": piece})
            chunk_ms = min(opts.audio_delta_ms or opts.ms_per_word, opts.ms_per_word)
            for _ in range(max(1, opts.ms_per_word // chunk_ms)):
                if self.cancelled:
                    break
                audio = pcm16(chunk_ms, opts.audio_kind)
                await self.conn.send(
                    {"type": "response.output_audio.delta", **ids, "delta": base64.b64encode(audio).decode("ascii")}
                )
                self.conn.hub._record_output_audio(self.conn.index, len(audio))
                self.record.audio_ms += chunk_ms
                self.conn.add_output_audio(item["id"], chunk_ms)
                await self._pause(chunk_ms / 1000 if opts.realistic_pacing else opts.delta_interval_s)
        if self.text_only:
            await self.conn.send({"type": "response.output_text.done", **ids, "text": spoken})
            content = {"type": "output_text", "text": spoken}
        else:
            await self.conn.send({"type": "response.output_audio.done", **ids})
            await self.conn.send({"type": "response.output_audio_transcript.done", **ids, "transcript": spoken})
            content = {"type": "output_audio", "transcript": spoken}
        await self.conn.send({"type": "response.content_part.done", **ids, "part": {"type": kind, key: spoken}})
        item["content"] = [content]
        item["status"] = "incomplete" if self.cancelled else "completed"
        await self._close_item(item, index)

    async def _stream_call(self, call: Call) -> None:
        arguments = call.arguments_json()
        call_id = call.call_id or new_call_id()
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        index = await self._open_item(item)
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index, "call_id": call_id}
        sent = ""
        for start in range(0, len(arguments), 8):
            if self.cancelled:
                break
            piece = arguments[start : start + 8]
            sent += piece
            await self.conn.send({"type": "response.function_call_arguments.delta", **ids, "delta": piece})
            await self._pause(self.conn.stream_options.delta_interval_s)
        if self.cancelled:
            item["status"], item["arguments"] = "incomplete", sent
            await self._close_item(item, index)
            return
        await self.conn.send(
            {"type": "response.function_call_arguments.done", **ids, "name": call.name, "arguments": arguments}
        )
        item["status"], item["arguments"] = "completed", arguments
        self.record.function_calls.append((call.name, arguments))
        await self._close_item(item, index)
