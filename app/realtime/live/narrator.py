"""The GPT-Live backend (client delegation): the Live model talks with the person; we do the work it delegates.

- `session.delegation.created` carries no text: the task is the person's pending turn, built from
  `session.input_transcript.delta` (the words since the narrator last spoke). live_intent decides whether it is a
  task (or follow-up: the team queues it), or a status/pause/resume/cancel request.
- Progress goes in as `session.thinking.append` (silent) for that delegation; the answer as
  `session.commentary.append` (a spoken summary, ≤ 500 tokens; the full answer with sources is on the page).
- A delegation id is valid only on the connection that created it. An answer still owed when the socket drops
  is delivered in the new session as general commentary (`delegation_id: null`), until acknowledged
  (`session.commentary.appended`).
- The ~2 h session limit: a new session is opened before it, at a quiet moment, with the conversation so far as
  its starting history. A `session.closed` (expired) is a reconnect with the same context.
- The person interrupting speech never cancels team work: only their words "stop that", "cancel", ... do.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from agents.session.team_session import SessionCommandError
from app.core.redaction import Redactor
from app.core.voice_settings import VoiceSettings
from app.realtime.live.config import commentary, session_start, thinking
from app.realtime.live.intent import Intent
from app.realtime.live.intent_model import IntentClassifier
from app.realtime.progress import progress_line, spoken_answer
from app.realtime.team_control import TeamControl, TeamUpdate, status_sentence, team_command
from app.realtime.transport import Connect, TransportClosed
from app.realtime.voice_front import FrontSettings, ToBrowser, VoiceFront
from app.store.event_log import SessionEventLog

log = logging.getLogger(__name__)

PENDING_MAX_CHARS = 4000
TRANSCRIPT_GRACE_S = 0.5  # a delegation may come a moment before the last words' transcript
MAX_DELEGATIONS = 256
SPEECH_QUIET_S = 0.6
MAX_ANSWER_ATTEMPTS = 3


@dataclass
class Owed:
    """An answer not yet acknowledged by the Live session."""

    content: str
    delegation_id: str | None
    connection: int  # the connection its delegation belongs to
    sent_on: int = 0  # the connection it was last sent on (0: not sent)
    event_id: str = ""
    attempts: int = 0


class LiveNarrator(VoiceFront):
    backend = "live"

    def __init__(
        self,
        *,
        connect: Connect,
        team: TeamControl,
        team_log: SessionEventLog | None,
        to_browser: ToBrowser,
        redactor: Redactor,
        settings: VoiceSettings,
        session_id: str | None = None,
        reconnect_delays_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0),
        openai_client: Any | None = None,
    ) -> None:
        super().__init__(
            connect=connect,
            team=team,
            session_id=session_id or (team_log.session_id if team_log else ""),
            team_log=team_log,
            to_browser=to_browser,
            redactor=redactor,
            front=FrontSettings(reconnect_delays_s, settings.live_session_max_s),
        )
        self._settings = settings
        self._intents = IntentClassifier(openai_client, settings.live_intent_model)
        self._pending: list[str] = []
        self._pending_changed = asyncio.Event()
        self._narrator_spoke = False
        self._user_turns = 0
        self._delegations: OrderedDict[str, int] = OrderedDict()  # id -> connection number
        self._run_delegation: dict[str, tuple[str, int]] = {}  # run_id -> (delegation id, connection)
        self._queued: deque[tuple[str | None, int]] = deque(maxlen=16)  # follow-ups' delegations, in order
        self._owed: OrderedDict[str, Owed] = OrderedDict()  # run_id -> answer
        self._delivered: deque[str] = deque(maxlen=256)  # runs whose answer the Live session acknowledged
        self._last_progress: dict[str, float] = {}
        self._renew = False
        self._quiet_until = 0.0  # no thinking before this (a delegation's acknowledgement window)
        self._playing = False
        self._quiet: asyncio.TimerHandle | None = None
        self._answers = 0
        self.spoken: deque[str] = deque(maxlen=100)  # the narrator's speech, one entry per stretch of output
        self.intents: deque[Intent] = deque(maxlen=100)

    # ---- connection -----------------------------------------------------------------------------------
    async def _on_open(self, restoring: bool) -> None:
        self._renew = False
        if self.keeps_conversation:  # a call's sideband: the session started with the call
            await self._on_started({})
            return
        context = self._context() if restoring else None
        await self._send(
            session_start(
                model=self._settings.live_model,
                voice=self._settings.live_voice,
                acknowledgement_delay_ms=self._settings.live_acknowledgement_delay_ms,
                context=context,
            )
        )

    def _context(self) -> str:
        status = self._team.status()
        lines = ["The voice connection was renewed. The conversation so far:", *self._memory]
        lines.append(
            f"Team state now: {status['state']}" + (f", working on: {status['task']}" if status.get("task") else "")
        )
        return "\n".join(lines)

    async def _on_started(self, event: dict[str, Any]) -> None:
        self._became_ready()
        await self._deliver_owed()

    def _session_limit(self) -> None:
        self._renew = True
        self._spawn(self._maybe_renew())

    async def _maybe_renew(self) -> None:
        if self._renew and not self._owed and not self._playing:
            log.info("renewing the GPT-Live session before its time limit")
            await self._transport.renew()

    # ---- from the browser -----------------------------------------------------------------------------
    async def audio_in(self, pcm: bytes) -> None:
        if self._ready.is_set() and pcm:
            try:
                await self._send({"type": "session.input_audio.append", "audio": base64.b64encode(pcm).decode()})
            except TransportClosed:
                pass

    async def text_in(self, text: str) -> None:
        """Typed text: no delegation comes for it, so it is acted on directly and the Live model is told."""
        self._person_turn()
        self._remember(f"Person (typed): {text[:300]}")
        await self.wait_connected(10)
        intent = await self._intents.classify(text, run_active=self._team.run_id is not None)
        note = await self._act(intent, delegation_id=None, connection=self._transport.connections)
        await self._send(thinking(f"The person typed: {text[:400]}. {note}", None))

    async def playback(self, item_id: str, played_ms: int) -> None:
        """GPT-Live keeps its own timeline of what was heard; there is nothing to truncate."""

    async def _tell_control(self, action: str, result: dict[str, Any]) -> None:
        await self._send(thinking(f"The person pressed {action} on the screen: {result['status']}.", None))

    # ---- from GPT-Live --------------------------------------------------------------------------------
    async def handle_server_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        if kind == "session.started":
            await self._on_started(event)
        elif kind == "session.output_audio.delta":
            self._on_audio(event)
        elif kind == "session.output_transcript.delta":
            self._on_output_transcript(event)
        elif kind == "session.input_transcript.delta":
            self._on_input_transcript(event)
        elif kind == "session.delegation.created":
            self._on_delegation(event)
        elif kind == "session.commentary.appended":
            await self._on_commentary_appended(event)
        elif kind == "error":
            self._on_error(event)
        elif kind == "session.closed":
            log.info("GPT-Live session closed: %s", event.get("reason"))

    def _on_audio(self, event: dict[str, Any]) -> None:
        if self.keeps_conversation:  # a call's sideband gets its audio reflected; the page hears it over WebRTC
            self._speaking()
            return
        try:
            pcm = base64.b64decode(event.get("delta") or "")
        except ValueError:
            return
        self._speaking()
        self._to_browser(pcm)

    def _on_output_transcript(self, event: dict[str, Any]) -> None:
        delta = str(event.get("delta") or "")
        self._speaking()
        self._narrator_spoke = True
        self.spoken[-1] += delta
        self._to_browser({"type": "caption", "role": "assistant", "item_id": f"live_{self._answers}", "delta": delta})

    def _speaking(self) -> None:
        """Live has no 'speech done' event: a stretch of speech ends after SPEECH_QUIET_S without output."""
        if not self._playing:
            self._playing = True
            self._answers += 1
            self.spoken.append("")
            self._to_browser({"type": "audio.start", "item_id": f"live_{self._answers}"})
        if self._quiet is not None:
            self._quiet.cancel()
        self._quiet = asyncio.get_running_loop().call_later(SPEECH_QUIET_S, self._end_speech)

    def _on_input_transcript(self, event: dict[str, Any]) -> None:
        if self._playing:  # the person speaks over the narrator: the page drops queued audio (work goes on)
            self._to_browser({"type": "playback.stop"})
            self._end_speech()
        if self._narrator_spoke or not self._pending:  # a new turn of the person's
            self._pending.clear()
            self._narrator_spoke = False
            self._user_turns += 1
        delta = str(event.get("delta") or "")
        if sum(map(len, self._pending)) < PENDING_MAX_CHARS:
            self._pending.append(delta)
        self._pending_changed.set()
        self._person_turn()
        self._to_browser({"type": "caption", "role": "user", "item_id": self._user_item, "delta": delta})

    @property
    def _user_item(self) -> str:
        return f"live_user_{self._user_turns}"

    def _end_speech(self) -> None:
        if self._quiet is not None:
            self._quiet.cancel()
            self._quiet = None
        if self._playing:
            self._playing = False
            if self._renew:
                self._spawn(self._maybe_renew())
            if self.spoken and self.spoken[-1]:
                self._remember(f"Narrator: {self.spoken[-1][:300]}")
                self._to_browser(
                    {
                        "type": "caption",
                        "role": "assistant",
                        "item_id": f"live_{self._answers}",
                        "text": self.spoken[-1],
                        "final": True,
                    }
                )

    def _on_delegation(self, event: dict[str, Any]) -> None:
        delegation = event.get("delegation") or {}
        delegation_id = delegation.get("id")
        if delegation.get("target") != "client" or not isinstance(delegation_id, str):
            return
        connection = self._transport.connections
        self._delegations[delegation_id] = connection
        while len(self._delegations) > MAX_DELEGATIONS:
            self._delegations.popitem(last=False)
        self._spawn(self._handle_delegation(delegation_id, connection))  # off the reader

    async def _handle_delegation(self, delegation_id: str, connection: int) -> None:
        ack_window_ends = time.monotonic() + self._settings.live_acknowledgement_delay_ms / 1000
        self._quiet_until = ack_window_ends  # progress notes wait too: any thinking cancels the acknowledgement
        if not "".join(self._pending).strip():
            self._pending_changed.clear()
            try:
                await asyncio.wait_for(self._pending_changed.wait(), TRANSCRIPT_GRACE_S)
            except TimeoutError:
                pass
        text = "".join(self._pending).strip()
        if text:
            self._to_browser(
                {"type": "caption", "role": "user", "item_id": self._user_item, "text": text, "final": True}
            )
        self._pending.clear()
        self._narrator_spoke = False
        intent = await self._intents.classify(text, run_active=self._team.run_id is not None)
        self.intents.append(intent)
        if text:
            self._remember(f"Person: {text[:300]}")
        note = await self._act(intent, delegation_id=delegation_id, connection=connection)
        if connection != self._transport.connections:
            return  # the delegation died with its connection; the owed answer (if any) still arrives
        control = intent.kind in ("status", "pause", "resume", "cancel")
        reply = commentary if control else thinking
        if not control:  # let GPT-Live speak its acknowledgement first: a silent note now would cancel it
            await asyncio.sleep(max(0.0, ack_window_ends - time.monotonic()))
            if connection != self._transport.connections:
                return
        try:
            await self._send(reply(note, delegation_id))
        except TransportClosed:
            log.info("socket dropped before delegation %s was acknowledged", delegation_id)

    async def _act(self, intent: Intent, *, delegation_id: str | None, connection: int) -> str:
        """Do what the person asked; the returned sentence goes back to the Live model."""
        try:
            if intent.kind == "none":
                return "There is no request in the person's words; nothing was sent to the team."
            if intent.kind == "task":
                result = await self._team.submit_task(intent.text)
                if result["status"] == "started":
                    self._note_run_started(result["run_id"])
                    if delegation_id:
                        self._run_delegation[result["run_id"]] = (delegation_id, connection)
                    return "The team started working on it. Its answer will come as commentary; keep it short now."
                self._queued.append((delegation_id, connection))
                return (
                    f"Queued as a follow-up (position {result.get('position')}): it starts when the current run ends."
                )
            if intent.kind == "status":
                return status_sentence(self._team.status())
            result = await team_command(self._team, intent.kind)
            return f"Done, as the person asked: the team is {result['status']}."
        except SessionCommandError as refused:
            return f"Not done: {refused.message}"

    async def _on_commentary_appended(self, event: dict[str, Any]) -> None:
        acked = event.get("client_event_id")
        for run_id, owed in list(self._owed.items()):
            if owed.event_id and owed.event_id == acked:
                del self._owed[run_id]
                self._delivered.append(run_id)
        if self._renew:
            await self._maybe_renew()

    def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        refused = error.get("client_event_id") or event.get("client_event_id")
        for owed in self._owed.values():
            if refused and owed.event_id == refused and owed.attempts < MAX_ANSWER_ATTEMPTS:
                owed.delegation_id, owed.sent_on = None, 0  # e.g. the delegation ended: say it as general context
                self._spawn(self._redeliver())
        log.warning("GPT-Live error event", extra={"code": error.get("code"), "param": error.get("param")})
        self._to_browser(
            {
                "type": "error",
                "code": str(error.get("code") or "live_error"),
                "message": self._redactor.redact(str(error.get("message") or "GPT-Live session error")),
            }
        )

    # ---- narration ------------------------------------------------------------------------------------
    async def narrate(self, event: TeamUpdate) -> None:
        if event.type == "run_started":
            self._note_run_started(event.run_id)
            if event.run_id and event.run_id not in self._run_delegation and self._queued:
                delegation_id, connection = self._queued.popleft()
                if delegation_id:
                    self._run_delegation[event.run_id] = (delegation_id, connection)
            return
        if event.type == "run_finished":
            run_id = event.run_id or f"run_{len(self._owed)}"
            self._last_progress.pop(run_id, None)
            if run_id not in self._owed and run_id not in self._delivered:
                delegation_id, connection = self._run_delegation.pop(run_id, (None, 0))
                content = spoken_answer(event.as_dict())
                self._remember("Team answer: " + content.split("Answer: ", 1)[-1][:500])
                self._owed[run_id] = Owed(content, delegation_id, connection)
            await self._deliver_owed()
            return
        line = progress_line(event.as_dict())
        if not line or not event.run_id:
            return
        now = time.monotonic()
        if now < self._quiet_until:
            return  # inside a delegation's acknowledgement window: later progress will be told
        if now - self._last_progress.get(event.run_id, -1e9) < self._settings.live_progress_every_s:
            return
        self._last_progress[event.run_id] = now
        await self._send(thinking(line, self._delegation_for(event.run_id)))

    def _delegation_for(self, run_id: str) -> str | None:
        delegation_id, connection = self._run_delegation.get(run_id, (None, 0))
        return delegation_id if connection == self._transport.connections else None

    async def _redeliver(self) -> None:
        try:
            await self._deliver_owed()
        except TransportClosed:
            pass  # delivered again when the next session starts

    async def _deliver_owed(self) -> None:
        """Send every owed answer not yet sent on this connection (for its delegation if that is still valid)."""
        current = self._transport.connections
        for run_id, owed in list(self._owed.items()):
            if owed.sent_on == current:
                continue
            delegation_id = owed.delegation_id if owed.connection == current else None
            owed.event_id = f"evt_answer_{run_id[-24:]}_{current}_{owed.attempts}"
            owed.sent_on = current  # before the await: the reader and narration may both deliver
            owed.attempts += 1
            try:
                await self._send(commentary(owed.content, delegation_id, owed.event_id))
            except TransportClosed:
                owed.sent_on = 0
                raise
