"""The Realtime backend: one OpenAI Realtime session (GA protocol, openai SDK) in front of one team.

What it guarantees, each against a failure seen in recorded sessions (shared/recordings):
- Every function call is answered with a `function_call_output` item, then a response (never `tool.output`);
  the tool runs off the socket's reader, so audio keeps flowing while ask_team waits on the store.
- Team progress goes in as short system message items (never `input_text` client events), without a response.
- The team's answer arrives as `[RUN_FINISHED] <answer>` and is spoken through a response that is retried
  until it is delivered; it is also always on the page as text (the run_finished team event).
- pause_team / cancel_team from the model are refused unless the person spoke after the run began.
- One response in flight (ResponseGate), matched without relying on the server echoing metadata.
- The socket is the transport's: on a drop or before the 60-minute limit it reconnects, and this restores
  instructions, tools, a summary and any answer still owed.
Server events are read as plain JSON, so both GA and older event names are understood.
"""

from __future__ import annotations

import base64
import json
import logging
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.default_models import DEFAULT_TRANSCRIPTION_MODEL
from app.core.redaction import Redactor
from app.realtime.narrator.events import (
    AUDIO_EVENTS,
    IGNORED_EVENTS,
    ITEM_EVENTS,
    TRANSCRIPT_DELTAS,
    TRANSCRIPT_DONE,
)
from app.realtime.narrator.responses import ResponseGate, ResponseRequest
from app.realtime.narrator.session_config import FINAL_INSTRUCTIONS, PROGRESS_INSTRUCTIONS, session_update
from app.realtime.narrator.tools import NarratorTools
from app.realtime.progress import ProgressSchedule, finished_line, progress_line
from app.realtime.team_control import TeamControl, TeamUpdate
from app.realtime.transport import Connect, TransportClosed
from app.realtime.voice_front import FrontSettings, ToBrowser, VoiceFront
from app.store.event_log import SessionEventLog

__all__ = ["IGNORED_EVENTS", "Narrator", "NarratorSettings"]

log = logging.getLogger(__name__)

BYTES_PER_MS = 48  # PCM16 mono at 24 kHz
MAX_CALL_IDS = 1000
MAX_ITEMS = 256


@dataclass(frozen=True)
class NarratorSettings:
    voice: str = "marin"
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    progress_update_after_s: float = 20.0
    max_progress_updates: int = 1
    session_max_s: float = 55 * 60.0  # OpenAI ends sessions at 60 minutes: rotate before that
    reconnect_delays_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
    response_backoff_s: float = 0.5
    response_attempts: int = 5
    response_start_timeout_s: float = 15.0


class Narrator(VoiceFront):
    backend = "realtime"

    def __init__(
        self,
        *,
        connect: Connect,
        team: TeamControl,
        team_log: SessionEventLog | None,
        to_browser: ToBrowser,
        redactor: Redactor,
        settings: NarratorSettings = NarratorSettings(),
        session_id: str | None = None,
    ) -> None:
        super().__init__(
            connect=connect,
            team=team,
            session_id=session_id or (team_log.session_id if team_log else ""),
            team_log=team_log,
            to_browser=to_browser,
            redactor=redactor,
            front=FrontSettings(settings.reconnect_delays_s, settings.session_max_s),
        )
        self._settings = settings
        self._gate = ResponseGate(
            self._send,
            max_attempts=settings.response_attempts,
            backoff_s=settings.response_backoff_s,
            start_timeout_s=settings.response_start_timeout_s,
        )
        self._tools = NarratorTools(team, person_asked=self.person_spoke_during_run, on_started=self._note_run_started)
        self._handled_calls: set[str] = set()
        self._owed_answer: str | None = None  # [RUN_FINISHED] text whose response has not completed yet
        self._progress = ProgressSchedule(
            settings.progress_update_after_s, settings.max_progress_updates, self._speak_progress, self._spawn
        )
        self._playing_item: str | None = None
        self._audio_ms: dict[str, float] = defaultdict(float)
        self._truncated: set[str] = set()
        self._rotate = False
        self._configured = False
        self.spoken: deque[str] = deque(maxlen=100)  # final transcripts of the narrator's responses
        self._handler_table = self._handlers()

    async def close(self) -> None:
        self._gate.close()
        self._progress.stop()
        await super().close()

    def run_as_sideband(self, on_gone: Callable[[], None], refused_limit: int = 3) -> None:
        super().run_as_sideband(on_gone, refused_limit)
        self._gate.keep_started_on_drop = True

    @property
    def gate(self) -> ResponseGate:
        return self._gate

    # ---- connection -----------------------------------------------------------------------------------
    async def _on_open(self, restoring: bool) -> None:
        """Configure the new session; the narrator is ready once the server confirms it (session.updated),
        so nothing runs under the server's defaults (which would create responses on their own)."""
        self._configured = False
        self._rotate = False
        await self._send(
            session_update(voice=self._settings.voice, transcription_model=self._settings.transcription_model)
        )
        if restoring and not self.keeps_conversation:
            await self._add_system_item(self._restore_summary())

    def _lost(self) -> None:
        self._gate.disconnected()
        super()._lost()

    async def _on_session_updated(self, event: dict[str, Any]) -> None:
        if self._configured:
            return
        self._configured = True
        self._became_ready()
        await self._gate.connected()

    def _restore_summary(self) -> str:
        status = self._team.status()
        lines = [
            "[CONTEXT] The voice connection was renewed. The conversation so far:",
            *self._memory,
            f"Team state now: {status['state']}" + (f", working on: {status['task']}" if status.get("task") else ""),
        ]
        summary = "\n".join(lines)[-2500:]
        if self._owed_answer:  # the answer was not spoken yet: it must be in the new session
            summary += "\nNot yet told to the person:\n" + self._owed_answer[:3000]
        return summary

    def _session_limit(self) -> None:
        self._rotate = True
        self._spawn(self._maybe_rotate())

    async def _maybe_rotate(self) -> None:
        """Renew the session before OpenAI's 60-minute limit, at a quiet moment."""
        if self._rotate and not self._gate.busy:
            log.info("renewing the realtime session before its time limit")
            await self._transport.renew()

    async def _add_system_item(self, text: str) -> None:
        await self._send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]},
            }
        )

    # ---- from the browser -----------------------------------------------------------------------------
    async def audio_in(self, pcm: bytes) -> None:
        if self._ready.is_set() and pcm:
            try:
                await self._send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
            except TransportClosed:
                pass  # audio spoken while the socket is down is lost, like on a phone line

    async def text_in(self, text: str) -> None:
        """Typed text from the page: a user message item, then a response."""
        self._person_turn()
        self._remember(f"Person: {text[:300]}")
        await self.wait_connected(10)
        await self._send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
            }
        )
        await self._gate.request(ResponseRequest("reply"))

    async def playback(self, item_id: str, played_ms: int) -> None:
        """The page says how much of an item it played; truncate the item if it was cut short (barge-in)."""
        sent_ms = self._audio_ms.get(item_id)
        if sent_ms is None or item_id in self._truncated or not self._ready.is_set():
            return
        end_ms = int(min(played_ms, sent_ms))
        if end_ms >= int(sent_ms):
            return  # played to the end: nothing to truncate
        if len(self._truncated) >= MAX_ITEMS:
            self._truncated.clear()
        self._truncated.add(item_id)
        await self._send(
            {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": end_ms}
        )

    async def _tell_control(self, action: str, result: dict[str, Any]) -> None:
        await self._add_system_item(f"[TEAM control] The person pressed {action}.")

    # ---- from the realtime server ---------------------------------------------------------------------
    async def handle_server_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        handler = self._handler_table.get(kind)
        if handler is not None:
            await handler(event)
        elif kind not in IGNORED_EVENTS:
            log.debug("unhandled realtime event type %s", kind)

    def _handlers(self) -> dict[str, Any]:
        handlers: dict[str, Any] = {
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_user_transcript_delta,
            "conversation.item.input_audio_transcription.completed": self._on_user_transcript,
            "response.created": self._on_response_created,
            "response.output_item.done": self._on_output_item_done,
            "response.done": self._on_response_done,
        }
        handlers.update(dict.fromkeys(AUDIO_EVENTS, self._on_audio))
        handlers.update(dict.fromkeys(TRANSCRIPT_DELTAS, self._on_transcript_delta))
        handlers.update(dict.fromkeys(TRANSCRIPT_DONE, self._on_transcript_done))
        handlers.update(dict.fromkeys(ITEM_EVENTS, self._on_item))
        return handlers

    async def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        log.warning(
            "realtime error event",
            extra={"code": error.get("code"), "error_type": error.get("type"), "param": error.get("param")},
        )
        self._to_browser(
            {
                "type": "error",
                "code": str(error.get("code") or error.get("type") or "realtime_error"),
                "message": self._redactor.redact(str(error.get("message") or "Realtime session error")),
            }
        )
        await self._gate.on_error(error)

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        if self._playing_item is not None:
            self._to_browser({"type": "playback.stop"})  # the page stops at once and reports played ms
            self._playing_item = None

    async def _on_committed(self, event: dict[str, Any]) -> None:
        self._person_turn()
        await self._gate.request(ResponseRequest("reply"))

    async def _on_user_transcript_delta(self, event: dict[str, Any]) -> None:
        self._to_browser(
            {"type": "caption", "role": "user", "item_id": event.get("item_id", ""), "delta": event.get("delta", "")}
        )

    async def _on_user_transcript(self, event: dict[str, Any]) -> None:
        text = event.get("transcript") or ""
        self._remember(f"Person: {text[:300]}")
        self._to_browser(
            {"type": "caption", "role": "user", "item_id": event.get("item_id", ""), "text": text, "final": True}
        )

    async def _on_item(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call" and item.get("status") == "completed":
            self._function_call(item)

    async def _on_response_created(self, event: dict[str, Any]) -> None:
        self._gate.on_created(event.get("response") or {})

    async def _on_audio(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id") or ""
        try:
            pcm = base64.b64decode(event.get("delta") or "")
        except ValueError:
            return
        if item_id != self._playing_item:
            self._playing_item = item_id
            self._to_browser({"type": "audio.start", "item_id": item_id})
        self._audio_ms[item_id] += len(pcm) / BYTES_PER_MS
        while len(self._audio_ms) > MAX_ITEMS:  # only recent items can still be cut short by barge-in
            self._audio_ms.pop(next(iter(self._audio_ms)))
        self._to_browser(pcm)

    async def _on_transcript_delta(self, event: dict[str, Any]) -> None:
        self._to_browser(
            {
                "type": "caption",
                "role": "assistant",
                "item_id": event.get("item_id", ""),
                "delta": event.get("delta", ""),
            }
        )

    async def _on_transcript_done(self, event: dict[str, Any]) -> None:
        text = event.get("transcript") or event.get("text") or ""
        self.spoken.append(text)
        self._remember(f"Narrator: {text[:300]}")
        self._to_browser(
            {"type": "caption", "role": "assistant", "item_id": event.get("item_id", ""), "text": text, "final": True}
        )

    async def _on_output_item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            self._function_call(item)

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        for item in response.get("output") or []:  # a call whose output_item.done we missed
            if item.get("type") == "function_call" and item.get("status") == "completed":
                self._function_call(item)
        outcome = await self._gate.on_done(response)
        if outcome.request is not None and outcome.request.purpose == "final_answer":
            if outcome.status == "completed":
                self._owed_answer = None
            elif outcome.status == "failed":
                self._state("ready", "The voice service failed to speak the answer; retrying.")
        if self._rotate:
            await self._maybe_rotate()

    # ---- tools (off the reader) -----------------------------------------------------------------------
    def _function_call(self, item: dict[str, Any]) -> None:
        call_id = item.get("call_id")
        if not call_id or call_id in self._handled_calls:
            return
        if len(self._handled_calls) >= MAX_CALL_IDS:
            self._handled_calls.clear()
        self._handled_calls.add(call_id)
        self._spawn(self._answer_call(call_id, str(item.get("name") or ""), item.get("arguments") or "{}"))

    async def _answer_call(self, call_id: str, name: str, raw_arguments: str) -> None:
        try:
            arguments = json.loads(raw_arguments)
            if not isinstance(arguments, dict):
                raise ValueError
        except ValueError:
            output: dict[str, Any] = {"ok": False, "error": "The arguments are not a JSON object."}
        else:
            output = await self._tools.run(name, arguments)
        try:
            await self._send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": call_id, "output": json.dumps(output)},
                }
            )
        except TransportClosed:
            log.warning("the socket dropped before %s could be answered; the new session gets a summary", name)
            return
        await self._gate.request(ResponseRequest("tool_result"))

    # ---- narration ------------------------------------------------------------------------------------
    async def narrate(self, event: TeamUpdate) -> None:
        if event.type == "run_started":
            self._note_run_started(event.run_id)
            self._progress.start()
            return
        if event.type == "run_finished":
            self._progress.stop()
            line = finished_line(event.as_dict())
            self._owed_answer = line
            self._remember("Team answer: " + line[len("[RUN_FINISHED] ") :])
            await self._add_system_item(line)
            await self._gate.request(
                ResponseRequest(
                    "final_answer",
                    instructions=FINAL_INSTRUCTIONS,
                    tool_choice="none",
                    must_deliver=True,
                    run_id=event.run_id,
                )
            )
            return
        progress = progress_line(event.as_dict())
        if progress:
            await self._add_system_item(progress)

    async def _speak_progress(self) -> None:
        await self._gate.request(ResponseRequest("progress", instructions=PROGRESS_INSTRUCTIONS, tool_choice="none"))
