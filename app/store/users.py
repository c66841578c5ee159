"""Who is calling: users and their tokens.

Users come from three places: APP_USERS (a JSON object of name to token, for small deployments and tests),
APP_TOKEN (one user, "owner"), and tokens made with `research-team users add NAME` (stored as SHA-256 hashes in
the run store; the token itself is printed once and kept nowhere). Behind an SSO proxy (oauth2-proxy,
Authelia, Cloudflare Access), AUTH_TRUSTED_HEADER names the user, accepted only from TRUSTED_PROXIES.
With none of these the server belongs to one local owner, as before users existed.

Reserved names: `local` is that one owner (a server without users; it has no session cap) and `owner` is
APP_TOKEN's user. No SSO header and no new stored user may take them; APP_USERS may not name `local`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from app.store.run_store import RunStore, now_iso
from app.store.schema import LOCAL_OWNER, checkpoints, runs, sessions, users

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
APP_TOKEN_USER = "owner"
RELOAD_EVERY_S = 1.0  # an unknown token re-reads the users table at most this often
RESERVED_NAMES = frozenset({LOCAL_OWNER, APP_TOKEN_USER})
log = logging.getLogger(__name__)


class ReservedName(ValueError):
    """A name only the server itself gives: the local owner, or APP_TOKEN's user."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"The user name {name!r} is reserved ({', '.join(sorted(RESERVED_NAMES))}: the owner of a server without "
            "users, and APP_TOKEN's user); no user, token or SSO header may take it."
        )


def is_reserved(name: str) -> bool:
    return name.lower() in RESERVED_NAMES


def token_hash(token: str) -> str:
    """Tokens are 256-bit random strings, so a plain SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "rt_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TrustedProxy:
    header: str  # e.g. X-Forwarded-User
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def user_for(self, client_ip: str | None, headers: dict[str, str]) -> str | None:
        name = headers.get(self.header.lower())
        if not name or client_ip is None:
            return None
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return None
        if not any(address in network for network in self.networks):
            return None  # a header from anyone else is ignored: it could be forged
        if is_reserved(name):
            raise ReservedName(name)
        return name if USER_NAME.match(name) else None


class UserDirectory:
    """Maps a presented token to a user name. The stored users are cached and re-read on a miss (at most once
    a second), so a user added with the CLI while the server runs can log in at once."""

    def __init__(self, store: RunStore | None, static: dict[str, str], trusted: TrustedProxy | None = None) -> None:
        for name in static:
            if not USER_NAME.match(name):
                raise ValueError(f"user name {name!r}: letters, digits and _.@- only, at most 64 characters")
            if name.lower() == LOCAL_OWNER:
                raise ReservedName(name)  # APP_USERS; `owner` stays allowed there (APP_TOKEN's name, set alike)
        self._static = {token_hash(token): name for name, token in static.items() if token}
        self._stored: dict[str, str] = {}
        self._store = store
        self._trusted = trusted
        self._loaded_at = 0.0

    def attach(self, store: RunStore) -> None:
        """The run store, once the app has started it (the guard is built before)."""
        self._store = store

    @property
    def enabled(self) -> bool:
        """False when the server is the one local owner's (no users, no token, no trusted proxy)."""
        return bool(self._static or self._stored or self._trusted)

    async def load(self) -> None:
        if self._store is None:
            return
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(select(users.c.token_hash, users.c.name))).all()
        stored = {str(h): str(n) for h, n in rows}
        # a `local` stored before names were reserved would be the uncapped owner of an open server: ignored
        for name in sorted({n for n in stored.values() if n.lower() == LOCAL_OWNER}):
            log.warning("stored user %r ignored: the name is reserved; remove it (research-team users remove)", name)
        self._stored = {h: n for h, n in stored.items() if n.lower() != LOCAL_OWNER}
        self._loaded_at = time.monotonic()

    async def refresh(self) -> None:
        """Re-read the stored users if the last read is older than RELOAD_EVERY_S: the first user added with the
        CLI closes a server that was open to its local owner, within a second, without a restart."""
        if self._store is not None and time.monotonic() - self._loaded_at > RELOAD_EVERY_S:
            await self.load()

    async def user_for_token(self, token: str | None) -> str | None:
        if not token:
            return None
        digest = token_hash(token)  # looked up by hash: the lookup's timing says nothing about the token
        name = self._static.get(digest) or self._stored.get(digest)
        if name is None:
            await self.refresh()
            name = self._stored.get(digest)
        return name

    def user_for_proxy(self, client_ip: str | None, headers: dict[str, str]) -> str | None:
        return self._trusted.user_for(client_ip, headers) if self._trusted else None

    @staticmethod
    def local_owner() -> str:
        return LOCAL_OWNER


# ---- the users table, for the CLI --------------------------------------------------------------------------
async def add_user(store: RunStore, name: str) -> str:
    """Create a user and return its new token (shown once; only its hash is stored)."""
    if not USER_NAME.match(name):
        raise ValueError("a user name is letters, digits and _.@- (at most 64 characters)")
    if is_reserved(name):
        raise ReservedName(name)
    token = new_token()
    async with store.engine.begin() as conn:
        await conn.execute(users.insert().values(name=name, token_hash=token_hash(token), created_at=now_iso()))
    return token


async def list_users(store: RunStore) -> list[tuple[str, str]]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(users.c.name, users.c.created_at).order_by(users.c.name))).all()
    return [(str(n), str(c)) for n, c in rows]


async def count_users(store: RunStore) -> int:
    async with store.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(users)) or 0)


async def adopt_local_runs(store: RunStore, name: str) -> int:
    """Hand the local owner's runs (made while the server had no users) to `name`; returns how many runs."""
    if not USER_NAME.match(name) or is_reserved(name):
        raise ValueError(f"{name!r} cannot own runs: a user name that is not reserved is needed")
    async with store.engine.begin() as conn:
        moved = await conn.execute(update(runs).where(runs.c.owner == LOCAL_OWNER).values(owner=name))
        await conn.execute(update(sessions).where(sessions.c.owner == LOCAL_OWNER).values(owner=name))
        await conn.execute(update(checkpoints).where(checkpoints.c.owner == LOCAL_OWNER).values(owner=name))
    return int(moved.rowcount or 0)


async def remove_user(store: RunStore, name: str) -> bool:
    async with store.engine.begin() as conn:
        result = await conn.execute(delete(users).where(users.c.name == name))
    return bool(result.rowcount)
