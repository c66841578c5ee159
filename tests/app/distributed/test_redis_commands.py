"""Nothing is trusted for being on Redis (issue 22): a real worker on a real redis-server, commands written
straight into its streams as anyone who reaches Redis could.

- forged commands (unsigned, wrong MAC, another cluster's secret, altered after signing, expired, valid for too
  long) are dropped unanswered and counted by reason; no session is taken, no run starts;
- a valid command written again is dropped as a replay, by the same worker and by another one;
- a command for another user's session is refused (not_found) and counted; a task's budget is clamped to the
  server's RUN_MAX_*.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.core.metrics import REGISTRY
from app.distributed.bus import PLACEMENT_STREAM, Command, Reply, connect, lease_key, reply_channel, worker_stream
from app.distributed.signing import BusSigner
from app.distributed.worker.worker import Worker
from app.store.run_store import RunStore
from tests.support.cluster import CLUSTER_SECRET, RedisServer, scripted_worker
from tests.support.live_server import make_settings

GATEWAY = "gateway-test"
SIGNER = BusSigner(CLUSTER_SECRET)
MakeWorker = Callable[[str], Awaitable[Worker]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RunStore]:
    running = RunStore(make_settings(tmp_path).database_url)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def make_worker(redis_server: RedisServer, store: RunStore, tmp_path: Path) -> AsyncIterator[MakeWorker]:
    """Workers on the test Redis and store; the models answer "Paris" (tests/support/scripted.py)."""
    settings = make_settings(tmp_path)
    async with AsyncExitStack() as workers:

        async def make(worker_id: str) -> Worker:
            return await workers.enter_async_context(
                scripted_worker(worker_id, redis_server.url, store, settings, lease_ttl_s=2)
            )

        yield make


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


class Replies:
    """What a gateway would hear on its reply channel (signed replies only, as GatewayBus reads them)."""

    def __init__(self, redis: Redis) -> None:
        self._pubsub = redis.pubsub()

    async def start(self) -> Replies:
        await self._pubsub.subscribe(reply_channel(GATEWAY))
        return self

    async def next(self, timeout: float = 10.0) -> Reply | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                payload = SIGNER.open("reply", reply_channel(GATEWAY), str(message["data"]))
                assert payload is not None, "a worker's reply is signed"
                return Reply.model_validate_json(payload)
        return None

    async def close(self) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]


@pytest.fixture
async def replies(redis: Redis) -> AsyncIterator[Replies]:
    listening = await Replies(redis).start()
    yield listening
    await listening.close()


def command(
    session_id: str, action: str = "task", *, owner: str = "alice", valid_s: float = 10, **fields: Any
) -> Command:
    now = time.time()
    values: dict[str, Any] = {"session_id": session_id, "owner": owner, "action": action, "reply_to": GATEWAY}
    values |= {"issued_at": now, "deadline": now + valid_s}
    if action == "task":
        values["text"] = "What is the capital of France?"
    return Command.model_validate(values | fields)


async def write(redis: Redis, fields: dict[str, str], stream: str = PLACEMENT_STREAM) -> None:
    await redis.xadd(stream, fields)  # type: ignore[arg-type]


def refused_metric(reason: str) -> float:
    return REGISTRY.get_sample_value("research_team_worker_commands_refused_total", {"reason": reason}) or 0.0


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.02)


async def test_forged_commands_are_dropped_counted_and_start_nothing(
    make_worker: MakeWorker, store: RunStore, redis: Redis, replies: Replies
) -> None:
    worker = await make_worker("w-1")
    session = "s_forged_0000001"
    await store.record_session(session, "alice")
    real = command(session)
    sealed = SIGNER.seal_command(real)
    altered = json.loads(sealed["c"]) | {"owner": "mallory", "text": "spend the key"}
    forged: list[tuple[str, dict[str, str]]] = [
        ("unsigned", {"c": real.model_dump_json()}),  # what every command looked like before
        ("unsigned", {"c": sealed["c"], "s": ""}),
        ("bad_signature", {"c": sealed["c"], "s": "0" * 64}),
        ("bad_signature", BusSigner("another-cluster-" + "x" * 32).seal_command(real)),
        ("bad_signature", {"c": json.dumps(altered, sort_keys=True, separators=(",", ":")), "s": sealed["s"]}),
        ("bad_signature", {"c": sealed["c"] + " ", "s": sealed["s"]}),
        ("malformed", {"x": "no command at all"}),
        ("expired", SIGNER.seal_command(command(session, issued_at=time.time() - 60, deadline=time.time() - 30))),
        ("bad_time", SIGNER.seal_command(command(session, valid_s=3600))),  # a forever-valid command
        ("bad_time", SIGNER.seal_command(command(session, issued_at=time.time() + 60, deadline=time.time() + 70))),
        ("bad_time", SIGNER.seal_command(command(session, issued_at=0.0, deadline=time.time() + 5))),
    ]
    before = {reason: refused_metric(reason) for reason, _ in forged}
    for index, (_reason, fields) in enumerate(forged):  # into placement and into the worker's own stream
        await write(redis, fields, PLACEMENT_STREAM if index % 2 else worker_stream(worker.worker_id))
    await until(lambda: sum(worker.intake.refused.values()) == len(forged), "every forged command refused")
    expected: dict[str, int] = {}
    for reason, _ in forged:
        expected[reason] = expected.get(reason, 0) + 1
    assert dict(worker.intake.refused) == expected
    for reason, count in expected.items():
        assert refused_metric(reason) - before[reason] == count, reason
    assert await replies.next(timeout=0.5) is None, "a forger learns nothing"
    assert session not in worker.hosted and await redis.get(lease_key(session)) is None
    assert await store.max_seq(session) == 0 and await store.active_runs() == []
    print(f"forged commands tried: {len(forged)}, dropped: {sum(worker.intake.refused.values())}")

    await write(redis, SIGNER.seal_command(command(session)))  # the real thing still works
    reply = await replies.next()
    assert reply is not None and reply.ok and reply.result["status"] == "started", reply


async def test_a_replayed_command_is_dropped_by_its_worker_and_by_any_other(
    make_worker: MakeWorker, store: RunStore, redis: Redis, replies: Replies
) -> None:
    first = await make_worker("w-1")
    session = "s_replay_0000001"
    await store.record_session(session, "alice")
    fields = SIGNER.seal_command(command(session))
    await write(redis, fields)
    reply = await replies.next()
    assert reply is not None and reply.ok and reply.result["status"] == "started"
    await write(redis, fields)  # the same signed command again: placement, then the worker's own stream
    await write(redis, fields, worker_stream(first.worker_id))
    await until(lambda: first.intake.refused["replayed"] == 2, "both copies refused")
    second = await make_worker("w-2")  # a worker that never saw it: Redis remembers for the cluster
    await write(redis, fields, worker_stream(second.worker_id))
    await until(lambda: second.intake.refused["replayed"] == 1, "the copy refused by another worker")
    assert await replies.next(timeout=0.5) is None, "no replayed command was done"
    await first.hosted[session].session.wait_idle(30)
    runs = [e for e in await store.events_after(session, 0) if json.loads(e[1])["type"] == "run_started"]
    assert len(runs) == 1, "the task ran once"


async def test_a_command_for_another_users_session_is_refused(
    make_worker: MakeWorker, store: RunStore, redis: Redis, replies: Replies
) -> None:
    worker = await make_worker("w-1")
    session = "s_alices_0000001"
    await store.record_session(session, "alice")
    for action in ("task", "cancel", "reset", "open"):  # validly signed (a gateway's bug, or a stolen secret)
        await write(redis, SIGNER.seal_command(command(session, action, owner="mallory")))
        reply = await replies.next()
        assert reply is not None and not reply.ok and reply.code == "not_found", reply
    await write(redis, SIGNER.seal_command(command("s_nobody_s_000001", owner="mallory")))  # not even recorded
    reply = await replies.next()
    assert reply is not None and reply.code == "not_found"
    assert worker.intake.refused["wrong_owner"] == 5
    assert session not in worker.hosted and await store.max_seq(session) == 0
    await write(redis, SIGNER.seal_command(command(session, "open")))  # its owner is served
    reply = await replies.next()
    assert reply is not None and reply.ok and reply.result["state"] == "idle"


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ({"max_model_calls": 1_000_000, "max_tokens": 10**12, "max_usd": 5000.0}, (30, 150_000, 5000.0)),
        ({"max_model_calls": None, "max_tokens": None, "max_usd": None}, (30, 150_000, None)),
        ({"max_model_calls": 3, "max_tokens": 1000}, (3, 1000, None)),  # less than the server's: kept
    ],
)
async def test_a_tasks_budget_is_clamped_to_the_servers(
    make_worker: MakeWorker,
    store: RunStore,
    redis: Redis,
    replies: Replies,
    asked: dict[str, Any],
    kept: tuple[Any, ...],
) -> None:
    worker = await make_worker("w-1")
    session = "s_budget_0000001"
    await store.record_session(session, "alice")
    await write(redis, SIGNER.seal_command(command(session, budget=asked)))
    reply = await replies.next()
    assert reply is not None and reply.ok, reply
    await worker.hosted[session].session.wait_idle(30)
    started = next(json.loads(text) for _seq, text in await store.events_after(session, 0) if '"run_started"' in text)
    budget = started["data"]["budget"]
    assert (budget["max_model_calls"], budget["max_tokens"], budget["max_usd"]) == kept
