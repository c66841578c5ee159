"""What gateways and workers say to each other over Redis, and the names of the keys they use.

- `rt:place` (a Stream, consumer group `workers`): commands for a session no worker holds; whichever worker
  reads one claims the session's lease and hosts it.
- `rt:w:<worker>` (a Stream per worker): commands for the sessions that worker holds.
- `rt:lease:<session>` (a string with an expiry): which worker holds the session; renewed by its heartbeat.
- `rt:ev:<session>` (pub/sub): the session's events, published after the store committed them.
- `rt:gw:<gateway>` (pub/sub): replies to that gateway's commands.
- `rt:workers` (a hash): live workers and their last heartbeat (for /health and the tests).

Streams are capped (MAXLEN ~) and the per-worker ones expire, so a dead worker leaves nothing that grows.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

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


def new_process_id(role: str) -> str:
    return f"{role}-{secrets.token_hex(4)}"


class Command(BaseModel):
    """One command from a gateway to the worker hosting (or about to host) a session."""

    id: str = Field(default_factory=lambda: secrets.token_hex(8))
    session_id: str
    owner: str
    action: Action
    text: str | None = None
    budget: dict[str, Any] | None = None
    reply_to: str
    hops: int = 0
    deadline: float = 0.0  # wall-clock time after which the gateway has given up: a worker drops it unanswered


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


async def send_command(redis: Redis, command: Command, worker_id: str | None) -> None:
    """To the worker that holds the session, or to placement when none does."""
    stream = worker_stream(worker_id) if worker_id else PLACEMENT_STREAM
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xadd(stream, {"c": command.model_dump_json()}, maxlen=STREAM_MAXLEN, approximate=True)
        if worker_id:
            pipe.expire(stream, WORKER_STREAM_TTL_S)
        await pipe.execute()
