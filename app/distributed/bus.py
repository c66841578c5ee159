"""What gateways and workers say to each other over Redis, and the names of the keys they use.

- `rt:place` (a Stream, consumer group `workers`): commands for a session no worker holds; whichever worker
  reads one claims the session's lease and hosts it.
- `rt:w:<worker>` (a Stream per worker): commands for the sessions that worker holds.
- `rt:lease:<session>` (a string with an expiry): which worker holds the session; renewed by its heartbeat.
- `rt:ev:<session>` (pub/sub): the session's events, published after the store committed them.
- `rt:gw:<gateway>` (pub/sub): replies to that gateway's commands.
- `rt:workers` (a hash): live workers and their last heartbeat (for /health and the tests).
- `rt:seen:<command>:<hops>` (a string until the command's deadline): a command taken by a worker, so that the
  same signed command written again is refused by every worker (signing.py, worker_intake.py).

Redis is reached with REDIS_URL: `redis://:password@host:6379/0` (or `redis://user:password@…` for an ACL
user), `rediss://…` for TLS (`?ssl_ca_certs=/path/ca.pem` for a private CA). `open_redis()` checks it at startup
and says clearly when Redis refused the password, so a gateway or worker never starts half-connected.

Streams are capped (MAXLEN ~) and the per-worker ones expire, so a dead worker leaves nothing that grows.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError

PREFIX = "rt:"
PLACEMENT_STREAM = PREFIX + "place"
PLACEMENT_GROUP = "workers"
WORKERS_HASH = PREFIX + "workers"
STREAM_MAXLEN = 10_000  # commands waiting in one stream; older ones are trimmed (their gateways time out)
WORKER_STREAM_TTL_S = 3600  # a dead worker's command stream goes away on its own
MAX_HOPS = 3  # forwards of one command between workers before it is refused

Action = Literal["open", "task", "pause", "resume", "cancel", "reset", "status"]


def lease_key(session_id: str) -> str:
    return f"{PREFIX}lease:{session_id}"


def worker_stream(worker_id: str) -> str:
    return f"{PREFIX}w:{worker_id}"


def events_channel(session_id: str) -> str:
    return f"{PREFIX}ev:{session_id}"


def reply_channel(gateway_id: str) -> str:
    return f"{PREFIX}gw:{gateway_id}"


def seen_key(command_id: str, hops: int) -> str:
    return f"{PREFIX}seen:{command_id}:{hops}"


def new_command_id() -> str:
    return secrets.token_hex(16)


def new_process_id(role: str) -> str:
    return f"{role}-{secrets.token_hex(4)}"


class Command(BaseModel):
    """One command from a gateway to the worker hosting (or about to host) a session."""

    id: str = Field(default_factory=new_command_id)
    session_id: str
    owner: str
    action: Action
    text: str | None = None
    budget: dict[str, Any] | None = None
    reply_to: str
    hops: int = 0
    deadline: float = 0.0  # wall-clock time after which the gateway has given up: a worker drops it unanswered
    issued_at: float = 0.0  # wall-clock time the gateway sent it (signed with it: see signing.py)


class Reply(BaseModel):
    id: str
    ok: bool
    result: dict[str, Any] = Field(default_factory=dict)
    code: str | None = None
    message: str | None = None


class EventNote(BaseModel):
    """One event on `rt:ev:<session>`: its seq and the JSON the clients get, as stored."""

    seq: int
    text: str


def connect(url: str) -> Redis:
    client: Redis = Redis.from_url(url, decode_responses=True, health_check_interval=30)
    return client


class RedisUnreachable(RuntimeError):
    """REDIS_URL does not lead to a Redis that lets us in (the message never contains the password)."""


def redacted_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def open_redis(url: str) -> Redis:
    """A client for REDIS_URL that has answered PING: or RedisUnreachable saying why, in plain words."""
    client = connect(url)
    where = redacted_url(url)
    try:
        await client.ping()
    except AuthenticationError as exc:
        await client.aclose()
        raise RedisUnreachable(
            f"Redis at {where} refused us: {str(exc).split('.')[0]}. Put Redis's password in REDIS_URL "
            "(redis://:PASSWORD@host:6379/0, or redis://USER:PASSWORD@… for an ACL user)."
        ) from None
    except RedisError as exc:
        await client.aclose()
        raise RedisUnreachable(f"Redis at {where} cannot be reached: {exc}. Check REDIS_URL.") from None
    return client
