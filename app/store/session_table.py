"""The live sessions of one server process, by id, with their owners and caps: what the embedded registry
(app/sessions/registry.py) and a gateway's (app/distributed/gateway/registry.py) share.

A requested id that is unknown or another user's answers as if it did not exist: the caller gets a fresh
session of their own and is told `not_found`. Sessions are capped in all and per user (the one local owner of a
server without users has no per-user cap).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from app.store.schema import LOCAL_OWNER

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_session_id() -> str:
    return "s_" + secrets.token_urlsafe(18)


class TooManySessions(Exception):
    """The server's or the user's cap on live sessions is reached."""


class Owned(Protocol):
    owner: str


E = TypeVar("E", bound=Owned)


class SessionTable(Generic[E]):
    def __init__(self, *, max_sessions: int, max_per_user: int) -> None:
        self._max_sessions = max_sessions
        self._max_per_user = max_per_user
        self._entries: dict[str, E] = {}
        self._per_user: dict[str, int] = {}
        self._opening: dict[str, asyncio.Lock] = {}  # one creation at a time per id

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str, owner: str) -> E | None:
        entry = self._entries.get(session_id)
        return entry if entry is not None and entry.owner == owner else None

    async def requested(
        self, session_id: str | None, owner: str, stored_owner: Callable[[str], Awaitable[str | None]]
    ) -> tuple[str | None, bool]:
        """(the id to serve, not_found): the requested id if it is `owner`'s, else None (make a fresh one)."""
        if session_id is None:
            return None, False
        if not SESSION_ID.match(session_id):
            raise ValueError("session ids are 8 to 64 characters of A-Z, a-z, 0-9, _ and -")
        entry = self._entries.get(session_id)
        known = entry.owner if entry is not None else await stored_owner(session_id)
        return (session_id, False) if known == owner else (None, True)

    async def attach(
        self,
        session_id: str | None,
        owner: str,
        stored_owner: Callable[[str], Awaitable[str | None]],
        open_entry: Callable[[str, bool], Awaitable[tuple[E, bool]]],
    ) -> tuple[E, bool, bool]:
        """(entry, resumed, not_found) for a connection of `owner`: the requested session if it is theirs, else a
        fresh one, opened once however many connections ask at the same time. `open_entry(session_id, fresh)`
        builds a session not live here and says whether it resumes stored events (a fresh id has none stored)."""
        session_id, not_found = await self.requested(session_id, owner, stored_owner)
        fresh = session_id is None
        if session_id is None:
            self.check_caps(owner)
            session_id = new_session_id()
        async with self.opening(session_id):
            entry = self.get(session_id, owner)
            resumed = entry is not None
            if entry is None:
                self.check_caps(owner)
                entry, resumed = await open_entry(session_id, fresh)
                self.add(session_id, entry)
        self.opened(session_id)
        return entry, resumed, not_found

    def opening(self, session_id: str) -> asyncio.Lock:
        return self._opening.setdefault(session_id, asyncio.Lock())

    def opened(self, session_id: str) -> None:
        self._opening.pop(session_id, None)

    def check_caps(self, owner: str) -> None:
        if len(self._entries) >= self._max_sessions:
            raise TooManySessions(f"The server has its maximum of {self._max_sessions} sessions; try again later.")
        if owner != LOCAL_OWNER and self._per_user.get(owner, 0) >= self._max_per_user:  # open mode: one owner
            raise TooManySessions(
                f"You have {self._max_per_user} open sessions, the most allowed; close one or let it expire."
            )

    def add(self, session_id: str, entry: E) -> None:
        self._entries[session_id] = entry
        self._per_user[entry.owner] = self._per_user.get(entry.owner, 0) + 1

    def remove(self, session_id: str, entry: E) -> bool:
        """Forget the entry (False when it is not the one held under that id)."""
        if self._entries.get(session_id) is not entry:
            return False
        del self._entries[session_id]
        left = self._per_user.get(entry.owner, 1) - 1
        if left > 0:
            self._per_user[entry.owner] = left
        else:
            self._per_user.pop(entry.owner, None)
        return True

    def entries(self) -> list[E]:
        return list(self._entries.values())

    def take_all(self) -> list[E]:
        entries, self._entries = list(self._entries.values()), {}
        self._per_user.clear()
        return entries
