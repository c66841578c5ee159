"""The narrator: one OpenAI Realtime session (GA protocol, openai SDK) in front of one TeamSession.

What it guarantees, each against a failure of the recorded sessions in shared/recordings:
- Every function call is answered with a `function_call_output` item, then a response (never `tool.output`).
- Team progress goes in as short system message items (never `input_text` client events), without a response.
- The team's answer arrives as `[RUN_FINISHED] <answer>` and is spoken through a response that is retried
  until it is delivered; it is also always on the page as text (the run_finished team event).
- pause_team / cancel_team from the model are refused unless the person spoke after the run began, and a
  pause never destroys a run: the team pauses gracefully and keeps its answer.
- One response in flight (ResponseGate). The socket is ours to reconnect: on a drop or before the 60-minute
  session limit it reconnects, restores instructions, tools and a summary, and re-asks an undelivered answer.
Server events are read as plain JSON, so both GA and older event names are understood.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from agents.background import BackgroundTasks
from agents.session import SessionCommandError, TeamSession
from app.event_log import Inbox, SessionEventLog
from app.realtime.event_mirror import EventMirror
from app.realtime.progress import finished_line, progress_line
from app.realtime.responses import ResponseGate, ResponseRequest
from app.realtime.session_config import session_update
from app.redaction import Redactor

log = logging.getLogger(__name__)

BYTES_PER_MS = 48  # PCM16 mono at 24 kHz
FINAL_INSTRUCTIONS = (
    "The team has finished; its final answer is the latest system message. Tell the person that answer in at "
    "most three short spoken sentences, key facts first. Do not read URLs. Do not call tools."
)
PROGRESS_INSTRUCTIONS = (
    "In one short sentence, tell the person what the team is doing right now, from the latest [TEAM] messages. "
    "Do not call tools."
)
AUDIO_EVENTS = ("response.output_audio.delta", "response.audio.delta")
TRANSCRIPT_DELTAS = (
    "response.output_audio_transcript.delta",
    "response.audio_transcript.delta",
    "response.output_text.delta",
    "response.text.delta",
)
TRANSCRIPT_DONE = (
    "response.output_audio_transcript.done",
    "response.audio_transcript.done",
    "response.output_text.done",
    "response.text.done",
)
ITEM_EVENTS = ("conversation.item.created", "conversation.item.added", "conversation.item.done")
# Events we receive and deliberately do nothing with (they are still mirrored to the page's event log).
IGNORED_EVENTS = frozenset(
    {
        "rate_limits.updated",
        "response.output_item.added",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_audio.done",
        "response.audio.done",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.retrieved",
        "conversation.created",
        "conversation.item.input_audio_transcription.segment",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "transcription_session.updated",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)

Connect = Callable[[], AbstractAsyncContextManager[Any]]
ToBrowser = Callable[[dict[str, Any] | bytes | str], None]


@dataclass(frozen=True)
class NarratorSettings:
    voice: str = "marin"
    transcription_model: str = "gpt-4o-mini-transcribe"
    progress_update_after_s: float = 20.0
    max_progress_updates: int = 1
    session_max_s: float = 55 * 60.0  # OpenAI ends sessions at 60 minutes: rotate before that
    reconnect_delays_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
    response_backoff_s: float = 0.5
    response_attempts: int = 5


class Narrator:
    def __init__(
        self,
        *,
        connect: Connect,
        team: TeamSession,
        team_log: SessionEventLog,
        to_browser: ToBrowser,
        redactor: Redactor,
        settings: NarratorSettings = NarratorSettings(),
    ) -> None:
        self._connect = connect
        self._team = team
        self._team_log = team_log
        self._to_browser = to_browser
        self._redactor = redactor
        self._settings = settings
        self._conn: Any = None
        self._connected = asyncio.Event()
        self._closing = False
        self._gate = ResponseGate(
            self._send, max_attempts=settings.response_attempts, backoff_s=settings.response_backoff_s
        )
        self._inbox = Inbox(10_000)
        self._narration: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks = BackgroundTasks()
        self._handled_calls: set[str] = set()
        self._run_started: dict[str, float] = {}
        self._active_run: str | None = None
        self._last_person_turn = 0.0
        self._progress_timer: asyncio.TimerHandle | None = None
        self._progress_updates = 0
        self._playing_item: str | None = None
        self._audio_ms: dict[str, float] = defaultdict(float)
        self._truncated: set[str] = set()
        self._memory: deque[str] = deque(maxlen=16)
        self._rotate = False
        self._configured = False
        self._handler_table = self._handlers()
        self.connections = 0
        self.spoken: list[str] = []  # final transcripts of the narrator's responses
        self._log_mirror = EventMirror(redactor, to_browser)

    # ---- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._team_log.subscribe(self._inbox)
        for loop in (self._connection_loop(), self._team_events(), self._narrate()):
            self._tasks.spawn(loop)

    async def close(self) -> None:
        self._closing = True
        self._team_log.unsubscribe(self._inbox)
        self._inbox.close()
        self._gate.close()
        if self._progress_timer:
            self._progress_timer.cancel()
        if self._conn is not None:
            try:
                await self._conn.close()
            except Exception:  # noqa: BLE001
                pass
        await asyncio.gather(*self._tasks.cancel_all(), return_exceptions=True)
        self._log_mirror.flush()

    @property
    def gate(self) -> ResponseGate:
        return self._gate

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def _connection_loop(self) -> None:
        failures = 0
        while not self._closing:
            try:
                async with self._connect() as conn:
                    self._conn = conn
                    failures = 0
                    await self._on_open(restoring=self.connections > 0)
                    self.connections += 1
                    rotate = asyncio.get_running_loop().call_later(self._settings.session_max_s, self._request_rotate)
                    try:
                        while True:
                            await self.handle_server_event(json.loads(await conn.recv_bytes()))
                    finally:
                        rotate.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any loss of the socket leads to a reconnect
                if not self._closing:
                    log.warning("realtime connection ended: %s", type(exc).__name__)
            finally:
                self._conn = None
                self._connected.clear()
                self._gate.disconnected()
            if self._closing:
                return
            self._to_browser(
                {
                    "type": "voice.state",
                    "state": "reconnecting",
                    "session_id": self._team.session_id,
                    "message": "Reconnecting to the voice service…",
                }
            )
            delays = self._settings.reconnect_delays_s
            await asyncio.sleep(delays[min(failures, len(delays) - 1)])
            failures += 1

    async def _on_open(self, *, restoring: bool) -> None:
        """Configure the new session; the narrator is ready once the server confirms it (session.updated),
        so nothing runs under the server's defaults (which would create responses on its own)."""
        self._configured = False
        await self._send(
            session_update(voice=self._settings.voice, transcription_model=self._settings.transcription_model)
        )
        if restoring:
            await self._add_system_item(self._restore_summary())
        self._rotate = False

    async def _on_session_updated(self, event: dict[str, Any]) -> None:
        if self._configured:
            return
        self._configured = True
        self._connected.set()
        self._to_browser({"type": "voice.state", "state": "ready", "session_id": self._team.session_id})
        await self._gate.connected()

    def _restore_summary(self) -> str:
        status = self._team.status()
        lines = [
            "[CONTEXT] The voice connection was renewed. The conversation so far:",
            *self._memory,
            f"Team state now: {status['state']}" + (f", working on: {status['task']}" if status["task"] else ""),
        ]
        return "\n".join(lines)[-3000:]

    def _request_rotate(self) -> None:
        self._rotate = True
        self._spawn(self._maybe_rotate())

    async def _maybe_rotate(self) -> None:
        """Renew the session before OpenAI's 60-minute limit, at a quiet moment."""
        if self._rotate and not self._gate.busy and self._conn is not None:
            log.info("renewing the realtime session before its time limit")
            await self._conn.close()

    # ---- sending --------------------------------------------------------------------------------------
    async def _send(self, event: dict[str, Any]) -> None:
        if self._conn is None:
            raise ConnectionError("realtime connection is not open")
        self._log_mirror.mirror("sent", event)
        await self._conn.send(event)

    async def _add_system_item(self, text: str) -> None:
        await self._send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]},
            }
        )

    # ---- from the browser -----------------------------------------------------------------------------
    async def audio_in(self, pcm: bytes) -> None:
        if self._conn is not None and pcm:
            await self._send({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})

    async def text_in(self, text: str) -> None:
        """Typed text from the page: a user message item, then a response."""
        self._person_turn()
        self._memory.append(f"Person: {text[:300]}")
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
        if sent_ms is None or item_id in self._truncated or self._conn is None:
            return
        end_ms = int(min(played_ms, sent_ms))
        if end_ms >= int(sent_ms):
            return  # played to the end: nothing to truncate
        self._truncated.add(item_id)
        await self._send(
            {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": end_ms}
        )

    async def team_control(self, action: str) -> dict[str, Any]:
        """Pause, resume or cancel from the page's buttons: the person's own request."""
        self._person_turn()
        command = {"pause": self._team.pause, "resume": self._team.resume, "cancel": self._team.cancel}[action]
        result = await command()
        if self._connected.is_set():
            await self._add_system_item(f"[TEAM control] The person pressed {action}.")
        return result

    # ---- from the realtime server ---------------------------------------------------------------------
    async def handle_server_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        self._log_mirror.mirror("received", event)
        handler = self._handler_table.get(kind)
        if handler is not None:
            await handler(event)
        elif kind not in IGNORED_EVENTS:
            log.debug("unhandled realtime event type %s", kind)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.committed": self._on_committed,
            "conversation.item.input_audio_transcription.delta": self._on_user_transcript_delta,
            "conversation.item.input_audio_transcription.completed": self._on_user_transcript,
            "conversation.item.input_audio_transcription.failed": self._on_transcription_failed,
            "response.created": self._on_response_created,
            "response.output_item.done": self._on_output_item_done,
            "response.done": self._on_response_done,
        }
        for name in AUDIO_EVENTS:
            handlers[name] = self._on_audio
        for name in TRANSCRIPT_DELTAS:
            handlers[name] = self._on_transcript_delta
        for name in TRANSCRIPT_DONE:
            handlers[name] = self._on_transcript_done
        for name in ITEM_EVENTS:
            handlers[name] = self._on_item
        return handlers

    async def _on_session_created(self, event: dict[str, Any]) -> None:
        log.info("realtime session created", extra={"model": (event.get("session") or {}).get("model")})

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
        self._memory.append(f"Person: {text[:300]}")
        self._to_browser(
            {"type": "caption", "role": "user", "item_id": event.get("item_id", ""), "text": text, "final": True}
        )

    async def _on_transcription_failed(self, event: dict[str, Any]) -> None:
        log.warning("input transcription failed", extra={"item_id": event.get("item_id")})

    async def _on_item(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call" and item.get("status") == "completed":
            await self._function_call(item)

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
        self._memory.append(f"Narrator: {text[:300]}")
        self._to_browser(
            {"type": "caption", "role": "assistant", "item_id": event.get("item_id", ""), "text": text, "final": True}
        )

    async def _on_output_item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            await self._function_call(item)

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        for item in response.get("output") or []:  # a call whose output_item.done we missed
            if item.get("type") == "function_call" and item.get("status") == "completed":
                await self._function_call(item)
        outcome = await self._gate.on_done(response)
        if outcome.status == "failed" and outcome.request is not None and outcome.request.must_deliver:
            self._to_browser(
                {
                    "type": "voice.state",
                    "state": "ready",
                    "session_id": self._team.session_id,
                    "message": "The voice service failed to speak the answer; retrying.",
                }
            )
        if self._rotate:
            await self._maybe_rotate()

    # ---- tools ----------------------------------------------------------------------------------------
    async def _function_call(self, item: dict[str, Any]) -> None:
        call_id = item.get("call_id")
        if not call_id or call_id in self._handled_calls:
            return
        self._handled_calls.add(call_id)
        name = str(item.get("name") or "")
        try:
            arguments = json.loads(item.get("arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError
        except ValueError:
            output: dict[str, Any] = {"ok": False, "error": "The arguments are not a JSON object."}
        else:
            output = await self._run_tool(name, arguments)
        await self._send(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": json.dumps(output)},
            }
        )
        await self._gate.request(ResponseRequest("tool_result"))

    async def _run_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            if name == "ask_team":
                task = arguments.get("task")
                if not isinstance(task, str) or not task.strip():
                    return {"ok": False, "error": "ask_team needs a non-empty 'task' string."}
                result = await self._team.submit_task(task.strip())
                if result["status"] == "started":
                    self._run_started.setdefault(result["run_id"], time.monotonic())
                    return {
                        "ok": True,
                        **result,
                        "note": "The team is working. Tell the person in one short "
                        "sentence. The answer will arrive as [RUN_FINISHED].",
                    }
                return {"ok": True, **result, "note": "Queued as a follow-up: it starts when the current run ends."}
            if name == "team_status":
                return {"ok": True, **self._team.status()}
            if name in ("pause_team", "cancel_team"):
                verb = "paused" if name == "pause_team" else "cancelled"
                if not self._person_spoke_during_run():
                    return {"ok": False, "refused": f"not {verb}: the person did not ask. The team keeps working."}
                result = await (self._team.pause() if name == "pause_team" else self._team.cancel())
                return {"ok": True, **result}
            if name == "resume_team":
                return {"ok": True, **(await self._team.resume())}
        except SessionCommandError as refused:
            return {"ok": False, "error": refused.code, "message": refused.message}
        return {
            "ok": False,
            "error": f"Unknown tool '{name[:60]}'. Tools: ask_team, team_status, pause_team, resume_team, cancel_team.",
        }

    def _person_turn(self) -> None:
        self._last_person_turn = time.monotonic()

    def _person_spoke_during_run(self) -> bool:
        started = self._run_started.get(self._team.run_id or "")
        return started is not None and self._last_person_turn > started

    # ---- team events ----------------------------------------------------------------------------------
    async def _team_events(self) -> None:
        """Every team event goes to the page at once; the narrator handles it when its socket is up."""
        while (item := await self._inbox.get()) is not None:
            text = item.text
            self._to_browser(f'{{"type": "team", "event": {text}}}')
            event = json.loads(text)
            if event.get("type") in (
                "run_started",
                "run_finished",
                "TextMessage",
                "ToolCallRequestEvent",
                "ToolCallExecutionEvent",
                "error",
            ):
                self._narration.put_nowait(event)

    async def _narrate(self) -> None:
        while True:
            event = await self._narration.get()
            while True:
                await self._connected.wait()
                try:
                    await self._on_team_event(event)
                    break
                except ConnectionError:
                    continue  # the socket dropped mid-way: try again once it is back

    async def _on_team_event(self, event: dict[str, Any]) -> None:
        kind, run_id = event.get("type"), event.get("run_id")
        if kind == "run_started":
            self._run_started.setdefault(run_id or "", time.monotonic())
            self._active_run = run_id
            self._progress_updates = 0
            self._arm_progress_timer()
            return
        if kind == "run_finished":
            if self._progress_timer:
                self._progress_timer.cancel()
            self._active_run = None
            line = finished_line(event)
            self._memory.append("Team answer: " + line[len("[RUN_FINISHED] ") :][:600])
            await self._add_system_item(line)
            await self._gate.request(
                ResponseRequest(
                    "final_answer",
                    instructions=FINAL_INSTRUCTIONS,
                    tool_choice="none",
                    must_deliver=True,
                    run_id=run_id,
                )
            )
            return
        progress = progress_line(event)
        if progress:
            await self._add_system_item(progress)

    def _arm_progress_timer(self) -> None:
        if self._progress_timer:
            self._progress_timer.cancel()
        if self._settings.max_progress_updates <= 0:
            return
        self._progress_timer = asyncio.get_running_loop().call_later(
            self._settings.progress_update_after_s, lambda: self._spawn(self._progress_update())
        )

    async def _progress_update(self) -> None:
        if self._active_run is None or self._progress_updates >= self._settings.max_progress_updates:
            return
        self._progress_updates += 1
        await self._gate.request(ResponseRequest("progress", instructions=PROGRESS_INSTRUCTIONS, tool_choice="none"))
        if self._progress_updates < self._settings.max_progress_updates:
            self._arm_progress_timer()

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)
