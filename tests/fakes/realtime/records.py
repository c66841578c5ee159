"""What the fake Realtime API keeps of its sessions, and how a test reads it: every client and server event, the
rejected ones and why, truncations, audio, responses and session updates, recorded on the server's loop and read
from any thread (RealtimeRecords, the base of RealtimeFake)."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.fakes.common.sdk_types import Issue
from tests.fakes.common.vad import EnergyVad
from tests.fakes.realtime.brain import Brain, NarratorBrain
from tests.fakes.realtime.connection import RealtimeConnection
from tests.fakes.realtime.socket import ConnectionOptions, RealtimeSocket
from tests.fakes.realtime.stream import ResponseRecord

T = TypeVar("T")

__all__ = ["RealtimeRecords", "ClientEventRecord", "Rejection", "Violation", "Truncation"]


@dataclass(frozen=True)
class ClientEventRecord:
    """One event received from a client, in arrival order."""

    session: int
    """Session number (1 = the first connection)."""
    type: str | None
    event: Any
    time: float


@dataclass(frozen=True)
class Rejection:
    """A client event answered with an `error` (what the real API would refuse)."""

    session: int
    event: Any
    code: str
    message: str
    param: str | None
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class Violation:
    """A protocol rule broken by the client (e.g. a second `response.create` while one is active)."""

    session: int
    kind: str
    message: str
    event: Any


@dataclass(frozen=True)
class Truncation:
    session: int
    item_id: str
    content_index: int
    audio_end_ms: int


def _copy_live(get: Callable[[], T]) -> T:
    """Deep-copy state the server loop may be changing right now (retry if it changed mid-copy)."""
    for _ in range(50):
        try:
            return copy.deepcopy(get())
        except RuntimeError:  # "dictionary changed size during iteration"
            time.sleep(0.001)
    return copy.deepcopy(get())


class RealtimeRecords:
    """The record of the fake's realtime sessions (one per WebSocket connection) and the observations on it."""

    def __init__(self, brain: Brain | None = None, options: ConnectionOptions | None = None) -> None:
        self.brain: Brain = brain if brain is not None else NarratorBrain()
        self.options = options or ConnectionOptions()
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: list[RealtimeConnection] = []
        self._client_events: list[ClientEventRecord] = []
        self._server_events: list[tuple[int, dict[str, Any]]] = []
        self._invalid_server_events: list[tuple[int, dict[str, Any], list[str]]] = []
        self._rejected: list[Rejection] = []
        self._violations: list[Violation] = []
        self._truncations: list[Truncation] = []
        self._responses: list[ResponseRecord] = []
        self._session_updates: list[tuple[int, dict[str, Any]]] = []
        self._internal_errors: list[tuple[int, BaseException]] = []
        self._audio_bytes = 0
        self._audio_appends = 0
        self._input_audio_by_session: dict[int, int] = {}
        self._output_audio_by_session: dict[int, int] = {}
        self._vad_settings: dict[str, Any] | None = None
        self._pending_transcripts: list[str] = []
        self._dropped_events: list[tuple[int, Any]] = []

    # ---- recording (server loop) --------------------------------------------------------------------
    def _attach(self, conn: RealtimeConnection) -> None:
        with self._lock:
            if self._vad_settings is not None:
                conn.vad = EnergyVad(**self._vad_settings)
                conn.vad.position_ms = int(conn.input_audio_total_ms)
            conn.pending_transcripts.extend(self._pending_transcripts)
            self._pending_transcripts.clear()
            self._connections.append(conn)

    def _next_index(self) -> int:
        """The number of the next session (sessions are numbered from 1 in connection order)."""
        with self._lock:
            return len(self._connections) + 1

    def _connection_closed(self, conn: RealtimeSocket) -> None:
        with self._lock:
            conn.closed = True

    def _record_client_event(self, session: int, event: Any) -> None:
        with self._lock:
            kind = event.get("type") if isinstance(event, dict) else None
            self._client_events.append(
                ClientEventRecord(session, kind if isinstance(kind, str) else None, copy.deepcopy(event), time.time())
            )

    def _record_server_event(self, session: int, event: dict[str, Any]) -> None:
        with self._lock:
            self._server_events.append((session, event))

    def _record_invalid_server_event(self, session: int, event: dict[str, Any], problems: list[str]) -> None:
        with self._lock:
            self._invalid_server_events.append((session, event, problems))

    def _record_rejected(self, session: int, event: Any, issue: Issue, issues: list[Issue] | None = None) -> None:
        with self._lock:
            self._rejected.append(
                Rejection(
                    session, copy.deepcopy(event), issue.code, issue.message, issue.param, tuple(issues or [issue])
                )
            )

    def _record_violation(self, session: int, kind: str, message: str, event: Any) -> None:
        with self._lock:
            self._violations.append(Violation(session, kind, message, copy.deepcopy(event)))

    def _record_truncation(self, session: int, item_id: str, content_index: int, audio_end_ms: int) -> None:
        with self._lock:
            self._truncations.append(Truncation(session, item_id, content_index, audio_end_ms))

    def _record_audio(self, nbytes: int, session: int | None = None) -> None:
        with self._lock:
            self._audio_bytes += nbytes
            self._audio_appends += 1
            if session is not None:
                self._input_audio_by_session[session] = self._input_audio_by_session.get(session, 0) + nbytes

    def _record_output_audio(self, session: int, nbytes: int) -> None:
        with self._lock:
            self._output_audio_by_session[session] = self._output_audio_by_session.get(session, 0) + nbytes

    def _record_response(self, record: ResponseRecord) -> None:
        with self._lock:
            self._responses.append(record)

    def _record_session_update(self, session: int, update: dict[str, Any]) -> None:
        with self._lock:
            self._session_updates.append((session, copy.deepcopy(update)))

    def _record_internal_error(self, session: int, exc: BaseException) -> None:
        with self._lock:
            self._internal_errors.append((session, exc))

    # ---- observations -------------------------------------------------------------------------------
    @property
    def sessions(self) -> int:
        """How many realtime connections (sessions) were accepted so far."""
        with self._lock:
            return len(self._connections)

    @property
    def open_sessions(self) -> int:
        with self._lock:
            return sum(1 for c in self._connections if not c.closed)

    @property
    def client_events(self) -> list[ClientEventRecord]:
        """Every event received, in order (`.type`, `.event`, `.session`)."""
        with self._lock:
            return list(self._client_events)

    @property
    def client_event_types(self) -> list[str | None]:
        with self._lock:
            return [r.type for r in self._client_events]

    def client_events_of(self, event_type: str, session: int | None = None) -> list[dict[str, Any]]:
        """The received events of one type (optionally of one session), as dicts."""
        with self._lock:
            return [
                copy.deepcopy(r.event)
                for r in self._client_events
                if r.type == event_type and (session is None or r.session == session)
            ]

    @property
    def server_events(self) -> list[dict[str, Any]]:
        """Every event the fake sent, in order."""
        with self._lock:
            return [copy.deepcopy(e) for _, e in self._server_events]

    def server_events_of(self, event_type: str, session: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(e)
                for s, e in self._server_events
                if e["type"] == event_type and (session is None or s == session)
            ]

    @property
    def invalid_server_events(self) -> list[tuple[int, dict[str, Any], list[str]]]:
        """Events the fake sent that the SDK's `RealtimeServerEvent` would not parse cleanly (should be empty)."""
        with self._lock:
            return list(self._invalid_server_events)

    @property
    def rejected(self) -> list[Rejection]:
        """Client events the fake answered with an `error` (invalid shapes, unknown call ids, ...)."""
        with self._lock:
            return list(self._rejected)

    @property
    def violations(self) -> list[Violation]:
        """Protocol violations (`conversation_already_has_active_response`, the beta header, ...)."""
        with self._lock:
            return list(self._violations)

    @property
    def truncations(self) -> list[Truncation]:
        with self._lock:
            return list(self._truncations)

    @property
    def audio_bytes_received(self) -> int:
        """Decoded bytes of all `input_audio_buffer.append` events."""
        with self._lock:
            return self._audio_bytes

    @property
    def audio_appends(self) -> int:
        with self._lock:
            return self._audio_appends

    def input_audio_bytes(self, session: int | None = None) -> int:
        """Decoded bytes of the `input_audio_buffer.append` events of one session (default: all sessions)."""
        with self._lock:
            if session is None:
                return sum(self._input_audio_by_session.values())
            return self._input_audio_by_session.get(session, 0)

    def output_audio_bytes(self, session: int | None = None) -> int:
        """Decoded bytes of the `response.output_audio.delta` events sent to one session (default: all)."""
        with self._lock:
            if session is None:
                return sum(self._output_audio_by_session.values())
            return self._output_audio_by_session.get(session, 0)

    @property
    def responses(self) -> list[ResponseRecord]:
        """Every response created (by the client or by VAD), with its request, plan and outcome."""
        with self._lock:
            return list(self._responses)

    @property
    def session_updates(self) -> list[tuple[int, dict[str, Any]]]:
        """(session index, `session` object) of every accepted `session.update`."""
        with self._lock:
            return list(self._session_updates)

    @property
    def internal_errors(self) -> list[tuple[int, BaseException]]:
        """Exceptions inside the fake (a brain that raised, ...); should be empty."""
        with self._lock:
            return list(self._internal_errors)

    def spoken(self, session: int | None = None) -> list[str]:
        """What finished responses said (in order; a cancelled response counts with what it said before the
        cancel). A response still streaming is not included, so its status is final when its text shows here."""
        with self._lock:
            return [
                r.transcript
                for r in self._responses
                if r.transcript and r.finished_at is not None and (session is None or r.session == session)
            ]

    def function_calls(self, session: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(name, parsed arguments) of every function call the model made."""
        out: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            for r in self._responses:
                if session is None or r.session == session:
                    for name, args in r.function_calls:
                        try:
                            out.append((name, json.loads(args) if args else {}))
                        except ValueError:
                            out.append((name, {"_raw": args}))
        return out

    def _conn(self, session: int | None) -> RealtimeConnection:
        with self._lock:
            if session is not None:
                if not 1 <= session <= len(self._connections):
                    raise ValueError(
                        f"no realtime session {session} (sessions are numbered 1..{len(self._connections)})"
                    )
                return self._connections[session - 1]
            for conn in reversed(self._connections):
                if not conn.closed:
                    return conn
        raise RuntimeError("FakeOpenAI: no open realtime session")

    def _conn_or_last(self, session: int | None) -> RealtimeConnection:
        with self._lock:
            if session is None and not self.open_sessions and self._connections:
                return self._connections[-1]
        return self._conn(session)

    def items(self, session: int | None = None) -> list[dict[str, Any]]:
        """The conversation items of a session (default: the latest open one, else the last one), in order."""
        conn = self._conn_or_last(session)
        return _copy_live(lambda: conn.items)

    def session_config(self, session: int | None = None) -> dict[str, Any]:
        """The effective session object (as in the last `session.updated`)."""
        conn = self._conn_or_last(session)
        return _copy_live(lambda: conn.session)

    @property
    def narrator(self) -> NarratorBrain:
        """The brain, when it is a `NarratorBrain` (the default): for `fail_next`, `queue_function_call`..."""
        if not isinstance(self.brain, NarratorBrain):
            raise TypeError(f"the realtime brain is {type(self.brain).__name__}, not NarratorBrain")
        return self.brain

    def has_active_response(self, session: int | None = None) -> bool:
        """Whether a response is in progress in a session (default: the latest open one; False if none)."""
        try:
            conn = self._conn(session)
        except (RuntimeError, ValueError):
            return False
        return conn.active is not None
