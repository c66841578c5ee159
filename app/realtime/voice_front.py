"""What both voice backends share: the transport, the team's events (to the page at once, to narration when
the socket is up), the person-turn guard, a short memory for renewing sessions, and the page's event log.

Narration runs in its own task and consumes typed team events (app/realtime/team_control.py). A
`TransportClosed` while narrating an event waits for the next connection and narrates that event again, so a
drop during a send can never end narration. Slow work (team commands) runs off the reader in
background tasks, so audio and events keep flowing while a tool waits on the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agents.background import BackgroundTasks
from app.core.redaction import Redactor
from app.realtime.event_mirror import EventMirror
from app.realtime.team_control import TeamControl, TeamUpdate, team_command, team_event
from app.realtime.transport import Connect, Transport, TransportClosed
from app.realtime.voice_spans import VoiceTurns
from app.realtime.voice_usage import VoiceUsage
from app.store.event_log import Inbox, SessionEventLog

log = logging.getLogger(__name__)

ToBrowser = Callable[[dict[str, Any] | bytes | str], None]
NARRATION_LIMIT = 500  # team events waiting for narration; beyond it the oldest progress events are dropped
INBOX_LIMIT = 10_000
MAX_RUNS = 64


@dataclass(frozen=True)
class FrontSettings:
    """Transport and pacing shared by both backends."""

    reconnect_delays_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
    session_max_s: float = 55 * 60.0


class VoiceFront:
    backend = "?"
    keeps_conversation = False
    """True for a sideband: the conversation lives in the call, so a re-attach restores nothing."""

    def __init__(
        self,
        *,
        connect: Connect,
        team: TeamControl,
        session_id: str,
        team_log: SessionEventLog | None,
        to_browser: ToBrowser,
        redactor: Redactor,
        front: FrontSettings,
    ) -> None:
        self._team = team
        self._session_id = session_id
        self._team_log = team_log
        self._to_browser = to_browser
        self._redactor = redactor
        self._mirror = EventMirror(redactor, to_browser)
        self.usage = VoiceUsage(backend=self.backend, session_id=session_id, notify=to_browser)
        """Voice minutes and cost; build_voice_front sets its price (app/realtime/backends.py)."""
        self._turns = VoiceTurns(self.usage)
        self._transport = Transport(
            connect,
            on_open=self._opened,
            on_event=self.handle_server_event,
            on_lost=self._lost,
            on_session_limit=self._session_limit,
            mirror=self._observe,
            reconnect_delays_s=front.reconnect_delays_s,
            session_max_s=front.session_max_s,
        )
        self._ready = asyncio.Event()
        self._inbox = Inbox(INBOX_LIMIT)
        self._narration: deque[TeamUpdate] = deque()
        self._narration_ready = asyncio.Event()
        self._tasks = BackgroundTasks()
        self._run_started: dict[str, float] = {}  # the latest MAX_RUNS runs
        self._last_person_turn = 0.0
        self._memory: deque[str] = deque(maxlen=16)
        self._closing = False
        self._mirror_received = True

    # ---- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._team_log is not None:
            self._team_log.subscribe(self._inbox)
        for loop in (self._transport.run(), self._team_events(), self._narrate()):
            self._tasks.spawn(loop)

    def run_as_sideband(self, on_gone: Callable[[], None], refused_limit: int = 3) -> None:
        """This front is a WebRTC call's sideband: the browser carries the audio, the call keeps the
        conversation across a re-attach, and when the call has ended (attaching is refused) it stops."""
        self.keeps_conversation = True
        self.usage.transport = "webrtc"
        self._mirror_received = False  # the page logs the service's events from the call's data channel
        self._transport.give_up_after(refused_limit, on_gone)

    def _observe(self, direction: str, event: dict[str, Any]) -> None:
        """Every event sent or received: metered (minutes, cost, turn spans), then mirrored to the page."""
        try:
            if direction == "sent":
                self.usage.sent(event)
                self._turns.sent(event)
            else:
                self.usage.received(event)
                self._turns.received(event)
        except Exception:  # a metering bug must not stop the conversation
            log.exception("voice usage failed on %s", str(event.get("type"))[:60])
        if direction == "received" and not self._mirror_received:
            return
        self._mirror.mirror(direction, event)

    async def _opened(self, restoring: bool) -> None:
        if not (self.keeps_conversation and restoring):  # a sideband's re-attach continues the same session
            self.usage.new_session()
        await self._on_open(restoring)

    async def close(self) -> None:
        self._closing = True
        if self._team_log is not None:
            self._team_log.unsubscribe(self._inbox)
        self._inbox.close()
        await self._transport.close()
        await asyncio.gather(*self._tasks.cancel_all(), return_exceptions=True)
        self._mirror.flush()
        self.usage.close()
        self._turns.end()
        figures = {k: v for k, v in self.usage.snapshot().items() if k != "type"}
        log.info("voice session ended", extra={**figures, "turns": self._turns.turns})

    @property
    def connections(self) -> int:
        return self._transport.connections

    @property
    def handler_errors(self) -> int:
        return self._transport.handler_errors

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    def _state(self, state: str, message: str | None = None) -> None:
        out: dict[str, Any] = {
            "type": "voice.state",
            "state": state,
            "session_id": self._session_id,
            "backend": self.backend,
        }
        if message:
            out["message"] = message
        self._to_browser(out)

    def _became_ready(self) -> None:
        self._ready.set()
        self._state("ready")

    def _lost(self) -> None:
        self._ready.clear()
        if not self._closing:
            self._state("reconnecting", "Reconnecting to the voice service…")

    async def receive(self, event: dict[str, Any]) -> None:
        """One server event as the reader delivers it (mirrored to the page, handler errors isolated)."""
        await self._transport.dispatch(event)

    async def _send(self, event: dict[str, Any]) -> None:
        await self._transport.send(event)

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.spawn(coro)

    # ---- the person ---------------------------------------------------------------------------------------
    def _person_turn(self) -> None:
        self._last_person_turn = time.monotonic()

    def _note_run_started(self, run_id: str | None) -> None:
        if run_id:
            self._run_started.setdefault(run_id, time.monotonic())
            while len(self._run_started) > MAX_RUNS:
                self._run_started.pop(next(iter(self._run_started)))

    def person_spoke_during_run(self) -> bool:
        started = self._run_started.get(self._team.run_id or "")
        return started is not None and self._last_person_turn > started

    def _remember(self, line: str) -> None:
        self._memory.append(line[:600])

    # ---- team events ----------------------------------------------------------------------------------
    async def _team_events(self) -> None:
        """Every team event goes to the page at once; narration takes the ones it tells."""
        while (item := await self._inbox.get()) is not None:
            event = team_event(item)
            self._to_browser(f'{{"type": "team", "event": {event.text}}}')
            if event.narrated:
                self.offer_narration(event)

    def offer_narration(self, event: TeamUpdate) -> None:
        if len(self._narration) >= NARRATION_LIMIT:
            progress = [e for e in self._narration if e.type not in ("run_started", "run_finished")]
            if progress:
                self._narration.remove(progress[0])
        self._narration.append(event)
        self._narration_ready.set()

    async def _narrate(self) -> None:
        while True:
            while not self._narration:
                self._narration_ready.clear()
                await self._narration_ready.wait()
            event = self._narration[0]
            while True:
                await self._ready.wait()
                try:
                    await self.narrate(event)
                    break
                except TransportClosed:  # the socket went while telling it: tell it again on the next one
                    self._ready.clear()  # set again only when the next connection is configured
                except Exception:
                    log.exception("narrating %s failed", event.type)
                    break
            self._narration.popleft()

    # ---- per backend ----------------------------------------------------------------------------------
    async def _on_open(self, restoring: bool) -> None:
        raise NotImplementedError

    async def handle_server_event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    async def narrate(self, event: TeamUpdate) -> None:
        raise NotImplementedError

    def _session_limit(self) -> None:
        raise NotImplementedError

    # ---- from the page (per backend) ------------------------------------------------------------------
    async def audio_in(self, pcm: bytes) -> None:
        raise NotImplementedError

    async def text_in(self, text: str) -> None:
        raise NotImplementedError

    async def playback(self, item_id: str, played_ms: int) -> None:
        raise NotImplementedError

    async def team_control(self, action: str) -> dict[str, Any]:
        """Pause, resume or cancel from the page's buttons: the person's own request, always carried out; the
        voice model is told when its socket is up."""
        self._person_turn()
        result = await team_command(self._team, action)
        if self._ready.is_set():
            try:
                await self._tell_control(action, result)
            except TransportClosed:
                pass
        return result

    async def _tell_control(self, action: str, result: dict[str, Any]) -> None:
        raise NotImplementedError
