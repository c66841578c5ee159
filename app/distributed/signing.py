"""Nothing on Redis is trusted for being on Redis: what gateways and workers say to each other is signed.

Anyone who reaches Redis can write into its streams and channels. So every message between gateways and
workers carries an HMAC-SHA256 made with a key derived from CLUSTER_SECRET, which only the cluster's processes
know:

- a command (gateway -> worker, on `rt:place` and `rt:w:<worker>`): the MAC covers the command's canonical JSON
  (sorted keys, no spaces), i.e. all of it: session, owner, action, text, budget, reply channel, hops, its unique
  id, when it was issued and its deadline. A worker checks it in constant time and drops, unanswered and counted
  by reason, a command that is unsigned, forged, malformed, outside its validity window (issued in the future,
  valid for longer than MAX_VALIDITY_S, past its deadline) or replayed (its id and hop count seen before while
  still valid: a bounded cache here, and `SET NX` in Redis for the whole cluster; see worker_intake.py);
- a reply (worker -> gateway, `rt:gw:<gateway>`) and an event (worker -> gateways, `rt:ev:<session>`): the MAC
  also covers the channel, so a reply or event cannot be moved to another gateway or session. A gateway drops
  an unsigned or forged one (counted): without this anyone on Redis could show a user a fake answer. An old
  event replayed is harmless (events are delivered by seq, each once) and so is an old reply (ids are unique).

Signing says who wrote a message, not who may read it: events and commands are plain text on Redis. What keeps
them private is Redis itself: a password (or ACL user) in REDIS_URL, TLS (`rediss://`) between machines, and
Redis never reachable from outside the cluster (README: "What must never be reachable").
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal, get_args

from redis.asyncio import Redis

from app.distributed.bus import PLACEMENT_STREAM, STREAM_MAXLEN, WORKER_STREAM_TTL_S, Command, worker_stream

MIN_SECRET_CHARS = 32
MAX_VALIDITY_S = 300.0  # a command valid for longer than this is refused (gateways give 10 s by default)
CLOCK_SKEW_S = 5.0  # between machines' clocks: a command "issued" further in the future is refused
MAC_HEX = 64  # characters of a hex SHA-256 MAC
_KDF_LABEL = b"research-team bus v1"

DropReason = Literal[
    "unsigned", "bad_signature", "malformed", "bad_time", "expired", "replayed", "replay_cache_full", "wrong_owner"
]
DROP_REASONS: tuple[DropReason, ...] = get_args(DropReason)


class ClusterSecretError(ValueError):
    """CLUSTER_SECRET is missing or too short (a clear startup error, never a traceback about HMAC)."""


class Rejected(Exception):
    def __init__(self, reason: DropReason) -> None:
        super().__init__(reason)
        self.reason: DropReason = reason


def check_secret(secret: str | None) -> str:
    if not secret:
        raise ClusterSecretError(
            "CLUSTER_SECRET is not set. With REDIS_URL every gateway and worker needs the same CLUSTER_SECRET "
            f"(at least {MIN_SECRET_CHARS} characters, e.g. `openssl rand -hex 32`): it signs their commands, "
            "so that reaching Redis is not enough to run, cancel or read anyone's work."
        )
    if len(secret) < MIN_SECRET_CHARS:
        raise ClusterSecretError(
            f"CLUSTER_SECRET is too short ({len(secret)} characters): it needs at least {MIN_SECRET_CHARS} "
            "(e.g. `openssl rand -hex 32`)."
        )
    return secret


def canonical(command: Command) -> str:
    """The one encoding of a command that is signed and sent: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(
        command.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


class BusSigner:
    """Signs and checks the messages of one cluster. The key is derived from CLUSTER_SECRET for this use only."""

    def __init__(self, secret: str | None) -> None:
        self._key = hmac.new(check_secret(secret).encode(), _KDF_LABEL, hashlib.sha256).digest()

    def _mac(self, kind: str, channel: str, payload: str) -> str:
        message = f"{kind}\n{channel}\n{payload}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # ---- commands (stream entries: {"c": canonical JSON, "s": its MAC}) -------------------------------------
    def seal_command(self, command: Command) -> dict[str, str]:
        payload = canonical(command)
        return {"c": payload, "s": self._mac("command", "", payload)}

    def open_command(self, fields: dict[str, str]) -> Command:
        """The command, if its MAC is right and it parses; Rejected otherwise. Time and replay: the caller's."""
        payload, mac = fields.get("c"), fields.get("s")
        if payload is None:
            raise Rejected("malformed")
        if not mac:
            raise Rejected("unsigned")
        if not hmac.compare_digest(mac.encode(), self._mac("command", "", payload).encode()):
            raise Rejected("bad_signature")
        try:
            return Command.model_validate_json(payload)
        except ValueError:
            raise Rejected("malformed") from None

    # ---- replies and events (pub/sub data: MAC followed by the payload) -------------------------------------
    def seal(self, kind: Literal["reply", "event"], channel: str, payload: str) -> str:
        return self._mac(kind, channel, payload) + payload

    def open(self, kind: Literal["reply", "event"], channel: str, data: str) -> str | None:
        """The payload if `data` was sealed by this cluster for this channel, else None."""
        mac, payload = data[:MAC_HEX], data[MAC_HEX:]
        if len(mac) != MAC_HEX or not hmac.compare_digest(mac.encode(), self._mac(kind, channel, payload).encode()):
            return None
        return payload


async def send_command(redis: Redis, command: Command, worker_id: str | None, signer: BusSigner) -> None:
    """To the worker that holds the session, or to placement when none does; signed here."""
    stream = worker_stream(worker_id) if worker_id else PLACEMENT_STREAM
    fields: Any = signer.seal_command(command)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
        if worker_id:
            pipe.expire(stream, WORKER_STREAM_TTL_S)
        await pipe.execute()
