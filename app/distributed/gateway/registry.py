"""A gateway's sessions: the ones its clients are connected to right now, and nothing else.

Same interface and rules as the embedded SessionRegistry (app/sessions/registry.py), the same table of live sessions
with its owners and caps (app/store/session_table.py; caps are per gateway). The team itself lives on a worker:
attaching a known session asks its worker (placing it when no worker holds it) for its state; a new session is
recorded with its owner at once, so any gateway can check it, and reaches a worker with its first command. The
entry goes away with its last connection.
"""

from __future__ import annotations

import asyncio
import logging

from app.core.redaction import Redactor
from app.distributed.bus import Command
from app.distributed.gateway.bus import GatewayBus
from app.distributed.gateway.remote_session import RemoteEventLog, RemoteSession
from app.sessions.registry import Attached, SessionEntry
from app.store.run_store import RunStore
from app.store.session_table import SessionTable

log = logging.getLogger(__name__)


class RemoteRegistry:
    def __init__(
        self,
        store: RunStore,
        redactor: Redactor,
        bus: GatewayBus,
        *,
        model_access: bool,
        max_sessions: int = 1000,
        max_per_user: int = 50,
    ) -> None:
        self._store = store
        self._redactor = redactor
        self._bus = bus
        self._model_access = model_access
        self._table: SessionTable[SessionEntry] = SessionTable(max_sessions=max_sessions, max_per_user=max_per_user)

    def __len__(self) -> int:
        return len(self._table)

    def get(self, session_id: str, owner: str) -> SessionEntry | None:
        return self._table.get(session_id, owner)

    async def attach(self, session_id: str | None, owner: str) -> Attached:
        entry, resumed, not_found = await self._table.attach(
            session_id, owner, self._store.session_owner, lambda sid, fresh: self._opened(sid, owner, fresh)
        )
        entry.connections += 1
        return Attached(entry, resumed, not_found)

    async def _opened(self, session_id: str, owner: str, fresh: bool) -> tuple[SessionEntry, bool]:
        entry = await self._open(session_id, owner, fresh)
        return entry, entry.log.last_seq > 0

    async def _open(self, session_id: str, owner: str, fresh: bool) -> SessionEntry:
        status = None
        available = self._model_access
        if not fresh:  # its worker knows its state (and takes it on now if nobody holds it)
            info = await self._bus.command(Command(session_id=session_id, owner=owner, action="open", reply_to=""))
            status, available = info["status"], bool(info["available"])
        session = RemoteSession(session_id, owner, self._bus, available=available, status=status)
        feed = RemoteEventLog(session_id, self._store, self._redactor, owner=owner, on_event=session.observe)
        # A new session is recorded with its owner at once, so any gateway can check it before its first event.
        recorded = self._store.record_session(session_id, owner) if fresh else None
        try:
            await asyncio.gather(self._bus.subscribe(session_id, feed), *([recorded] if recorded else []))
            if not fresh:  # after the subscription is confirmed: nothing published falls between the two
                feed.start_at(await self._store.max_seq(session_id))
        except Exception:
            await self._bus.unsubscribe(session_id)
            raise
        return SessionEntry(session, feed, owner)

    async def detach(self, entry: SessionEntry) -> None:
        entry.connections = max(0, entry.connections - 1)
        if entry.connections == 0 and self._table.remove(entry.log.session_id, entry):
            await self._bus.unsubscribe(entry.log.session_id)

    async def live_workers(self, max_age_s: float) -> int:
        return await self._bus.live_workers(max_age_s)

    def redis_outage(self) -> str | None:
        return self._bus.redis_outage()

    def start_sweeper(self, every_s: float = 30.0) -> None:
        """Nothing to sweep: entries leave with their last connection; workers expire idle sessions."""

    async def sweep(self) -> int:
        return 0

    async def close_all(self) -> None:
        for entry in self._table.take_all():
            await self._bus.unsubscribe(entry.log.session_id)
