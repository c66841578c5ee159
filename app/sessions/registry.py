"""The live sessions of this server, by id: attach on connect, detach on disconnect, expire when idle.

A session belongs to the user who created it. Another user's session id, or an id nobody created, answers as
if it did not exist: the client gets a fresh session of its own (and is told `not_found`). A session outlives
its connections (a client that reconnects with ?session=ID finds its run still going) and is closed after
`idle_s` with no connection and no active run; one that never ran anything is closed as soon as its last
connection goes, since it holds nothing worth keeping. After a restart a known id is recreated with its seq
continuing from the store, so its old events can still be replayed. Sessions are capped in all and per user.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.models.budget import RunBudget
from agents.session.team_session import SessionState, TeamSession
from app.core.redaction import Redactor
from app.store.event_log import SessionEventLog
from app.store.run_store import RunStore
from app.store.session_table import SessionTable

log = logging.getLogger(__name__)

SessionBuilder = Callable[[str, SessionEventLog], Awaitable[TeamSession]]


class TeamHandle(Protocol):
    """What routes and narrators use of a session: agents.session.team_session.TeamSession in one process, or
    app.distributed.gateway.remote_session.RemoteSession on a gateway."""

    @property
    def state(self) -> SessionState: ...

    @property
    def run_id(self) -> str | None: ...

    @property
    def available(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...

    async def fetch_status(self) -> dict[str, Any]: ...

    async def submit_task(self, text: str, budget: RunBudget | None = None) -> dict[str, Any]: ...

    async def pause(self) -> dict[str, Any]: ...

    async def resume(self) -> dict[str, Any]: ...

    async def cancel(self) -> dict[str, Any]: ...

    async def reset(self) -> dict[str, Any]: ...

    async def wait_idle(self, timeout: float | None = None) -> None: ...

    async def close(self) -> None: ...


@dataclass
class SessionEntry:
    session: TeamHandle
    log: SessionEventLog
    owner: str
    connections: int = 0
    last_seen: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Attached:
    entry: SessionEntry
    resumed: bool  # the session existed (here or in the store) before this connection
    not_found: bool  # the requested id was unknown or another user's: this is a fresh session instead


class Registry(Protocol):
    """The sessions a server process serves: SessionRegistry (embedded) or a gateway's RemoteRegistry."""

    def __len__(self) -> int: ...

    def get(self, session_id: str, owner: str) -> SessionEntry | None: ...

    async def attach(self, session_id: str | None, owner: str) -> Attached: ...

    async def detach(self, entry: SessionEntry) -> None: ...

    def start_sweeper(self, every_s: float = 30.0) -> None: ...

    async def sweep(self) -> int: ...

    async def close_all(self) -> None: ...


class SessionRegistry:
    def __init__(
        self,
        store: RunStore,
        redactor: Redactor,
        build: SessionBuilder,
        *,
        idle_s: float,
        max_sessions: int = 1000,
        max_per_user: int = 50,
    ) -> None:
        self._store = store
        self._redactor = redactor
        self._build = build
        self._idle_s = idle_s
        self._table: SessionTable[SessionEntry] = SessionTable(max_sessions=max_sessions, max_per_user=max_per_user)
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._table)

    def get(self, session_id: str, owner: str) -> SessionEntry | None:
        return self._table.get(session_id, owner)

    async def attach(self, session_id: str | None, owner: str) -> Attached:
        """The session to serve `owner`'s connection: the requested one if it is theirs, else a fresh one."""
        entry, resumed, not_found = await self._table.attach(
            session_id, owner, self._store.session_owner, lambda sid, fresh: self._open(sid, owner, fresh)
        )
        entry.connections += 1
        entry.last_seen = time.monotonic()
        return Attached(entry, resumed, not_found)

    async def _open(self, session_id: str, owner: str, fresh: bool) -> tuple[SessionEntry, bool]:
        # An id made up just now has nothing stored: no query for it (one per new connection).
        last_seq = 0 if fresh else await self._store.max_seq(session_id)
        event_log = SessionEventLog(session_id, self._store, self._redactor, last_seq=last_seq, owner=owner)
        return SessionEntry(await self._build(session_id, event_log), event_log, owner), last_seq > 0

    async def detach(self, entry: SessionEntry) -> None:
        entry.connections = max(0, entry.connections - 1)
        entry.last_seen = time.monotonic()
        if entry.connections == 0 and entry.log.last_seq == 0 and entry.session.state == SessionState.IDLE:
            await self._close(entry)  # it never did anything: nothing to keep, free it now

    def start_sweeper(self, every_s: float = 30.0) -> None:
        every_s = max(0.5, min(every_s, self._idle_s / 4))
        self._sweeper = asyncio.create_task(self._sweep_forever(every_s), name="session-sweeper")

    async def _sweep_forever(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            await self.sweep()

    async def sweep(self) -> int:
        """Close sessions idle for longer than idle_s; returns how many were closed."""
        now = time.monotonic()
        idle = [
            e
            for e in self._table.entries()
            if e.connections == 0 and e.session.state == SessionState.IDLE and now - e.last_seen > self._idle_s
        ]
        for entry in idle:
            await self._close(entry)
        if idle:
            log.info("closed idle sessions", extra={"count": len(idle)})
        return len(idle)

    async def _close(self, entry: SessionEntry) -> None:
        if self._table.remove(entry.log.session_id, entry):
            await entry.session.close()

    async def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        entries = self._table.take_all()
        await asyncio.gather(*(e.session.close() for e in entries), return_exceptions=True)
