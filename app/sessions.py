"""The live sessions of this server, by id: attach on connect, detach on disconnect, expire when idle.

A session outlives its connections (a client that reconnects with ?session=ID finds its run still going) and is
closed after `idle_s` with no connection and no active run. A session id this process does not know (after a
restart) is recreated with its seq continuing from the store, so its old events can still be replayed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agents.session import SessionState, TeamSession
from app.event_log import SessionEventLog
from app.redaction import Redactor
from app.store import RunStore

log = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

SessionBuilder = Callable[[str, SessionEventLog], Awaitable[TeamSession]]


@dataclass
class SessionEntry:
    session: TeamSession
    log: SessionEventLog
    connections: int = 0
    last_seen: float = field(default_factory=time.monotonic)


def new_session_id() -> str:
    return "s_" + secrets.token_urlsafe(18)


class SessionRegistry:
    def __init__(self, store: RunStore, redactor: Redactor, build: SessionBuilder, *, idle_s: float) -> None:
        self._store = store
        self._redactor = redactor
        self._build = build
        self._idle_s = idle_s
        self._entries: dict[str, SessionEntry] = {}
        self._creating: dict[str, asyncio.Lock] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str) -> SessionEntry | None:
        return self._entries.get(session_id)

    async def attach(self, session_id: str | None) -> tuple[SessionEntry, bool]:
        """The session to serve a connection, and whether it already existed (here or in the store)."""
        if session_id is None:
            session_id = new_session_id()
        elif not SESSION_ID.match(session_id):
            raise ValueError("session ids are 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
        lock = self._creating.setdefault(session_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(session_id)
            resumed = entry is not None
            if entry is None:
                last_seq = await self._store.max_seq(session_id)
                resumed = last_seq > 0
                event_log = SessionEventLog(session_id, self._store, self._redactor, last_seq=last_seq)
                entry = SessionEntry(await self._build(session_id, event_log), event_log)
                self._entries[session_id] = entry
        self._creating.pop(session_id, None)
        entry.connections += 1
        entry.last_seen = time.monotonic()
        return entry, resumed

    def detach(self, entry: SessionEntry) -> None:
        entry.connections = max(0, entry.connections - 1)
        entry.last_seen = time.monotonic()

    def start_sweeper(self, every_s: float = 30.0) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(every_s), name="session-sweeper")

    async def _sweep_forever(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            await self.sweep()

    async def sweep(self) -> int:
        """Close sessions idle for longer than idle_s; returns how many were closed."""
        now = time.monotonic()
        idle = [
            sid
            for sid, e in self._entries.items()
            if e.connections == 0 and e.session.state == SessionState.IDLE and now - e.last_seen > self._idle_s
        ]
        for sid in idle:
            entry = self._entries.pop(sid)
            await entry.session.close()
        if idle:
            log.info("closed idle sessions", extra={"count": len(idle)})
        return len(idle)

    async def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        entries, self._entries = list(self._entries.values()), {}
        await asyncio.gather(*(e.session.close() for e in entries), return_exceptions=True)
