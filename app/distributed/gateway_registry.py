"""A gateway's sessions: the ones its clients are connected to right now, and nothing else.

Same interface and rules as the embedded SessionRegistry (app/sessions.py): another user's or an unknown
session id answers with a fresh session of the caller's own; caps on sessions in all and per user (per
gateway). The team itself lives on a worker: attaching a known session asks its worker (placing it when no
worker holds it) for its state; a new session is recorded with its owner at once, so any gateway can check it,
and reaches a worker with its first command. The entry goes away with its last connection.
"""

from __future__ import annotations

import asyncio
import logging

from app.distributed.bus import Command
from app.distributed.gateway_bus import GatewayBus
from app.distributed.remote_session import RemoteEventLog, RemoteSession
from app.redaction import Redactor
from app.sessions import SESSION_ID, Attached, SessionEntry, TooManySessions, new_session_id
from app.store import RunStore
from app.store_schema import LOCAL_OWNER

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
        self._max_sessions = max_sessions
        self._max_per_user = max_per_user
        self._entries: dict[str, SessionEntry] = {}
        self._per_user: dict[str, int] = {}
        self._opening: dict[str, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str, owner: str) -> SessionEntry | None:
        entry = self._entries.get(session_id)
        return entry if entry is not None and entry.owner == owner else None

    async def attach(self, session_id: str | None, owner: str) -> Attached:
        if session_id is not None and not SESSION_ID.match(session_id):
            raise ValueError("session ids are 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
        not_found, fresh = False, False
        if session_id is not None:
            entry = self._entries.get(session_id)
            known = entry.owner if entry is not None else await self._store.session_owner(session_id)
            if known != owner:
                session_id, not_found = None, True
        if session_id is None:
            self._check_caps(owner)
            session_id, fresh = new_session_id(), True
        lock = self._opening.setdefault(session_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(session_id)
            resumed = entry is not None
            if entry is None:
                self._check_caps(owner)
                entry = await self._open(session_id, owner, fresh)
                resumed = entry.log.last_seq > 0
                self._entries[session_id] = entry
                self._per_user[owner] = self._per_user.get(owner, 0) + 1
        self._opening.pop(session_id, None)
        entry.connections += 1
        return Attached(entry, resumed, not_found)

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

    def _check_caps(self, owner: str) -> None:
        if len(self._entries) >= self._max_sessions:
            raise TooManySessions(f"The server has its maximum of {self._max_sessions} sessions; try again later.")
        if owner != LOCAL_OWNER and self._per_user.get(owner, 0) >= self._max_per_user:
            raise TooManySessions(
                f"You have {self._max_per_user} open sessions, the most allowed; close one or let it expire."
            )

    async def detach(self, entry: SessionEntry) -> None:
        entry.connections = max(0, entry.connections - 1)
        if entry.connections > 0 or self._entries.get(entry.log.session_id) is not entry:
            return
        del self._entries[entry.log.session_id]
        left = self._per_user.get(entry.owner, 1) - 1
        if left > 0:
            self._per_user[entry.owner] = left
        else:
            self._per_user.pop(entry.owner, None)
        await self._bus.unsubscribe(entry.log.session_id)

    def start_sweeper(self, every_s: float = 30.0) -> None:
        """Nothing to sweep: entries leave with their last connection; workers expire idle sessions."""

    async def sweep(self) -> int:
        return 0

    async def close_all(self) -> None:
        for session_id in list(self._entries):
            await self._bus.unsubscribe(session_id)
        self._entries.clear()
        self._per_user.clear()
