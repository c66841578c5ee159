"""`LiveFake`: the test-facing side of the fake GPT-Live API (observations and control, thread-safe).

    live = fake_openai.live
    await live.asay("What's the weather in Paris?")         # transcript deltas, then a client delegation
    await live.until(lambda lv: lv.spoken_text(), ...)       # what the Live model said
    live.drop_before("session.commentary.append")            # the socket drops exactly as the answer is sent
    live.drop_connection(); live.expire_session()            # a TCP reset; the session's time limit
    assert live.problems() == []                             # no rejected event, no violation, no bad server event

Sessions (one per WebSocket connection) are numbered from 1 in connection order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tests.fakes.common.waiting import apoll_until
from tests.fakes.live.session import LiveConnection, LiveOptions, Spoken

__all__ = ["LiveFake", "LiveOptions", "Spoken"]


class LiveFake:
    def __init__(self, options: LiveOptions | None = None) -> None:
        self.options = options or LiveOptions()
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: list[LiveConnection] = []
        self._records: dict[str, list[Any]] = {}
        self._audio_in: dict[int, int] = {}

    # ---- recording (server loop) --------------------------------------------------------------------
    def _record(self, kind: str, value: Any) -> None:
        with self._lock:
            self._records.setdefault(kind, []).append(value)

    def _record_audio(self, session: int, nbytes: int) -> None:
        with self._lock:
            self._audio_in[session] = self._audio_in.get(session, 0) + nbytes

    def _attach(self, conn: LiveConnection) -> None:
        with self._lock:
            self._connections.append(conn)

    def _next_index(self) -> int:
        with self._lock:
            return len(self._connections) + 1

    def all_delegations(self) -> set[str]:
        with self._lock:
            return {d for c in self._connections for d in c.delegations}

    def _get(self, kind: str) -> list[Any]:
        with self._lock:
            return copy.copy(self._records.get(kind, []))

    # ---- observations -------------------------------------------------------------------------------
    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._connections)

    def client_events(self, kind: str | None = None, session: int | None = None) -> list[dict[str, Any]]:
        return [
            e
            for s, e, _ in self._get("client_events")
            if (kind is None or e.get("type") == kind) and (session is None or s == session)
        ]

    def client_event_times(self, kind: str) -> list[tuple[dict[str, Any], float]]:
        return [(e, t) for _, e, t in self._get("client_events") if e.get("type") == kind]

    def client_event_records(self) -> list[tuple[int, dict[str, Any], float]]:
        """(session, event, receipt time) of every client event, in arrival order."""
        return self._get("client_events")

    def server_events_of(self, kind: str, session: int | None = None) -> list[dict[str, Any]]:
        return [e for s, e in self._get("server_events") if e["type"] == kind and (session is None or s == session)]

    @property
    def starts(self) -> list[tuple[int, dict[str, Any]]]:
        return self._get("starts")

    @property
    def delegations(self) -> list[tuple[int, str, str, float]]:
        """(session, delegation id, the person's words, when)."""
        return self._get("delegations")

    @property
    def thinking(self) -> list[tuple[int, str | None, str]]:
        return self._get("thinking")

    @property
    def commentary(self) -> list[tuple[int, str | None, str]]:
        return self._get("commentary")

    @property
    def spoken(self) -> list[Spoken]:
        return self._get("spoken")

    def spoken_text(self, cause: str = "commentary") -> list[str]:
        return [s.text for s in self.spoken if s.cause == cause]

    @property
    def dropped_events(self) -> list[tuple[int, dict[str, Any]]]:
        return self._get("dropped_events")

    def input_audio_bytes(self, session: int | None = None) -> int:
        with self._lock:
            return sum(n for s, n in self._audio_in.items() if session is None or s == session)

    def output_audio_bytes(self, session: int | None = None) -> int:
        """Audio the Live "model" finished speaking (acknowledgements and commentary)."""
        return sum(s.audio_bytes for s in self.spoken if session is None or s.session == session)

    def problems(self) -> list[str]:
        out = [f"rejected live event: {i.code}: {i.message} ({e!r:.200})" for _, e, i in self._get("rejected")]
        out += [f"live violation: {kind}: {message}" for _, kind, message in self._get("violations")]
        out += [f"invalid live server event {e.get('type')}: {p}" for _, e, p in self._get("invalid_server_events")]
        out += [f"fake live internal error: {e!r}" for _, e in self._get("internal_errors")]
        return out

    @property
    def rejected(self) -> list[Any]:
        return self._get("rejected")

    # ---- control ------------------------------------------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeOpenAI is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _on_open(
        self,
        action: Callable[[LiveConnection], Coroutine[Any, Any, Any]],
        wait_s: float = 5.0,
        session: int | None = None,
    ) -> concurrent.futures.Future[Any]:
        """Run `action(conn)` on the server loop on session `session` (default: the latest), once it is open and
        started (waiting up to `wait_s`)."""

        async def run() -> Any:
            deadline = time.monotonic() + wait_s
            while True:
                with self._lock:
                    if session is None:
                        conn = self._connections[-1] if self._connections else None
                    else:
                        conn = self._connections[session - 1] if len(self._connections) >= session else None
                if conn is not None and not conn.closed and conn.config is not None:
                    return await action(conn)
                if time.monotonic() > deadline:
                    raise RuntimeError("FakeOpenAI: no open GPT-Live session")
                await asyncio.sleep(0.005)

        return self._submit(run())

    def say(self, text: str, *, delegate: bool = True, session: int | None = None) -> concurrent.futures.Future[Any]:
        """The person says `text`: input transcript deltas, then (delegate) a client delegation."""
        return self._on_open(lambda conn: conn.person_says(text, delegate=delegate), session=session)

    async def asay(self, text: str, *, delegate: bool = True, session: int | None = None) -> str | None:
        return await asyncio.wrap_future(self.say(text, delegate=delegate, session=session))

    def drop_connection(self) -> concurrent.futures.Future[Any]:
        return self._on_open(lambda conn: conn.drop())

    def drop_before(self, event_type: str) -> concurrent.futures.Future[Any]:
        """Drop the TCP connection when the next client event of this type arrives, before handling it."""

        async def arm(conn: LiveConnection) -> None:
            conn.drop_before = event_type

        return self._on_open(arm)

    def expire_session(self) -> concurrent.futures.Future[Any]:
        return self._on_open(lambda conn: conn.expire())

    async def until(self, predicate: Callable[[LiveFake], Any], timeout: float = 5.0, what: str = "condition") -> None:
        await apoll_until(lambda: bool(predicate(self)), timeout, what)

    async def _close_all(self) -> None:
        with self._lock:
            conns = [c for c in self._connections if not c.closed]
        for conn in conns:
            conn.closed = True
            try:
                await conn.ws.close(code=1000, reason="fake server stopped")
            except Exception:
                pass
