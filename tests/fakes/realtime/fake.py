"""`RealtimeFake`: the test-facing side of the fake realtime API (observations and control, thread-safe).

Sessions (one per WebSocket connection) are numbered from 1 in connection order: `rt.sessions` is the number of
the latest one, records carry `.session`, and control methods take `session=` (default: the latest open one).

Everything here may be called from any thread or event loop. Control methods return a
`concurrent.futures.Future` (call `.result(timeout)` in sync code, or use the `a*` async twins); they never
need the caller's event loop, so an async test can keep reading its realtime connection meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tests.fakes.common.vad import EnergyVad
from tests.fakes.common.waiting import apoll_until, poll_until
from tests.fakes.realtime.connection import RealtimeConnection
from tests.fakes.realtime.records import ClientEventRecord, RealtimeRecords, Rejection, Truncation, Violation
from tests.fakes.realtime.stream import ResponseRecord

__all__ = ["RealtimeFake", "ClientEventRecord", "Rejection", "Violation", "Truncation"]


class RealtimeFake(RealtimeRecords):
    """Observations of, and control over, the fake's realtime sessions (one per WebSocket connection)."""

    # ---- control ------------------------------------------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeOpenAI is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _on_session(
        self, session: int | None, action: Callable[[RealtimeConnection], Coroutine[Any, Any, Any]], wait_s: float
    ) -> concurrent.futures.Future[Any]:
        """Run `action(conn)` on the server loop once the session exists and is open (waiting up to `wait_s`,
        e.g. while a client reconnects); the future fails with RuntimeError if it never does."""

        async def run() -> Any:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    conn = self._conn(session)
                    if conn.closed:
                        raise RuntimeError(f"FakeOpenAI: realtime session {session} is closed")
                    break
                except (RuntimeError, ValueError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.005)
            return await action(conn)

        return self._submit(run())

    def speak_user(
        self,
        text: str,
        *,
        audio_ms: int | None = None,
        session: int | None = None,
        transcribe: bool | None = None,
        transcript_timing: str = "before_response",
        pace: bool | None = None,
        wait_s: float = 5.0,
    ) -> concurrent.futures.Future[None]:
        """The person says `text` (server VAD): speech_started (barge-in: the active response is cancelled
        with reason turn_detected when interrupt_response is on), speech_stopped, committed, the user item
        added/done with `input_audio` content, the transcription delta/completed (when the session has input
        transcription, or `transcribe=True`), then an automatic response by the brain (unless
        turn_detection.create_response is false). `transcript_timing="after_response"` sends the transcription
        after the response has started, as the real server often does. With VAD off the words wait for the
        client's next `input_audio_buffer.commit`. `pace=True` waits `audio_ms` between start and stop
        (default: the fake's `realistic_pacing`). `audio_ms` defaults to 300 ms per word (at least 500 ms).
        If no session is open yet (e.g. the client is reconnecting), waits up to `wait_s` for one.
        """
        audio = audio_ms if audio_ms is not None else max(500, 300 * len(text.split()))
        paced = self.options.stream.realistic_pacing if pace is None else pace
        return self._on_session(
            session,
            lambda conn: conn.user_turn(text, audio, transcribe=transcribe, timing=transcript_timing, pace=paced),
            wait_s,
        )

    async def aspeak_user(self, text: str, **kwargs: Any) -> None:
        await asyncio.wrap_future(self.speak_user(text, **kwargs))

    def queue_transcript(self, text: str, session: int | None = None) -> None:
        """Words for the next user turn found in streamed audio (audio VAD) or committed by the client.
        Before any session exists, they go to the next connection."""
        with self._lock:
            if not self.open_sessions:
                self._pending_transcripts.append(text)
                return
        conn = self._conn(session)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(conn.pending_transcripts.append, text)

    def enable_audio_vad(
        self, *, threshold_rms: float = 500.0, min_speech_ms: int = 200, silence_ms: int | None = None
    ) -> None:
        """Detect speech in appended PCM16 audio (for tests that stream real audio, e.g. a browser fed a WAV
        file): a start/stop triggers the same events as `speak_user`, with words from `queue_transcript`."""
        settings: dict[str, Any] = {
            "threshold_rms": threshold_rms,
            "min_speech_ms": min_speech_ms,
            "silence_ms": silence_ms,
        }
        with self._lock:
            self._vad_settings = settings
            conns = [c for c in self._connections if not c.closed]
        for conn in conns:
            vad = EnergyVad(**settings)
            vad.position_ms = int(conn.input_audio_total_ms)  # positions count from the session's first audio
            conn.vad = vad

    def drop_connection(
        self,
        *,
        mode: str = "abort",
        code: int = 1011,
        reason: str = "",
        session: int | None = None,
        wait_s: float = 5.0,
    ) -> concurrent.futures.Future[None]:
        """Lose the connection. mode "abort": TCP reset without a close frame (the SDK sees 1006, which its
        reconnect policy treats as recoverable); mode "close": a close frame with `code` (1011 internal error
        and 1001 going away are recoverable too; 1000 is a normal end)."""
        return self._on_session(session, lambda conn: conn.drop(mode, code, reason), wait_s)

    def drop_before(
        self, predicate: Callable[[Any], bool], *, session: int | None = None, wait_s: float = 5.0
    ) -> concurrent.futures.Future[None]:
        """Drop the TCP connection (no close frame) when the next client event matching `predicate` arrives,
        before the fake handles it: the socket breaks exactly while that event is being sent."""

        async def arm(conn: RealtimeConnection) -> None:
            conn.drop_before = predicate

        return self._on_session(session, arm, wait_s)

    @property
    def dropped_events(self) -> list[tuple[int, Any]]:
        with self._lock:
            return list(self._dropped_events)

    def _record_dropped_event(self, session: int, event: Any) -> None:
        with self._lock:
            self._dropped_events.append((session, event))

    async def adrop_connection(self, **kwargs: Any) -> None:
        await asyncio.wrap_future(self.drop_connection(**kwargs))

    def send_event(
        self, event: dict[str, Any], *, session: int | None = None, validate: bool = True, wait_s: float = 5.0
    ) -> concurrent.futures.Future[None]:
        """Push any server event (an `event_id` is added when missing). With `validate`, a shape the SDK would
        not parse is recorded in `invalid_server_events`; pass validate=False for deliberate garbage."""
        return self._on_session(session, lambda conn: conn.send(dict(event), validate=validate), wait_s)

    async def asend_event(self, event: dict[str, Any], **kwargs: Any) -> None:
        await asyncio.wrap_future(self.send_event(event, **kwargs))

    def expire_session(self, session: int | None = None, wait_s: float = 5.0) -> concurrent.futures.Future[None]:
        """End a session now the way the real API does at 60 minutes (session_expired error, close 1001)."""
        return self._on_session(session, lambda conn: conn.expire(), wait_s)

    # ---- waiting ------------------------------------------------------------------------------------
    def wait_until(
        self, predicate: Callable[[RealtimeFake], object], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Block until `predicate(self)` holds, e.g. `rt.wait_until(lambda rt: rt.sessions == 2)`."""
        poll_until(lambda: predicate(self), timeout, what)

    async def until(
        self, predicate: Callable[[RealtimeFake], object], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Async `wait_until` (keeps the caller's event loop running)."""
        await apoll_until(lambda: predicate(self), timeout, what)

    def wait_for_client_event(self, event_type: str, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """Block until `count` events of `event_type` arrived; return the last of them."""
        poll_until(lambda: len(self.client_events_of(event_type)) >= count, timeout, f"{count} x {event_type}")
        return self.client_events_of(event_type)[count - 1]

    async def client_event(self, event_type: str, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """Async `wait_for_client_event`."""
        await apoll_until(lambda: len(self.client_events_of(event_type)) >= count, timeout, f"{count} x {event_type}")
        return self.client_events_of(event_type)[count - 1]

    async def response_done(self, count: int = 1, timeout: float = 5.0) -> ResponseRecord:
        """Wait until `count` responses have finished; return the `count`-th."""

        def finished() -> list[ResponseRecord]:
            return [r for r in self.responses if r.finished_at is not None]

        await apoll_until(lambda: len(finished()) >= count, timeout, f"{count} finished responses")
        return finished()[count - 1]
