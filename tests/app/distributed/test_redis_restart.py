"""Redis restarts under load (issue #29): SIGKILLed, back empty on the same port after ~2 s, as a Redis without
persistence (or after a failover) comes back. Real processes: Debian's redis-server, PostgreSQL, 1 gateway and
2 workers (tests/cluster.py); N runs in flight with ~1 s model calls.

Every run must finish with its own answer and every client's seqs must be gap-free (each once, in order, as
stored): workers re-create the consumer group and re-take their leases, the gateway subscribes again and
catches each session up from the store.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agents.events import ErrorCode
from agents.session.team_session import SessionCommandError
from app.distributed.bus import Command, EventNote, connect, events_channel
from app.distributed.gateway.bus import GatewayBus
from app.distributed.signing import BusSigner
from tests.fakes import FakeOpenAI
from tests.support.cluster import (
    CLUSTER_SECRET,
    Client,
    Cluster,
    RedisServer,
    check_complete,
    cluster_on,
    converse,
    research_script,
    stored_seqs,
)

DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
RUNS = int(os.environ.get("REDIS_RESTART_RUNS", "20"))
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DATABASE_URL, reason="TEST_DATABASE_URL is not set (CI sets it with PostgreSQL)"),
    pytest.mark.timeout(240),
]


class RestartableRedis(RedisServer):
    """A redis-server that can be SIGKILLed and started again, empty, on the same port."""

    def kill(self) -> None:
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(10)

    def start_again(self) -> None:
        self.__enter__()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


@pytest.fixture
def restartable_redis() -> Iterator[RestartableRedis]:
    with RestartableRedis() as server:
        yield server


@pytest.fixture
async def redis_cluster(
    restartable_redis: RestartableRedis, empty_database: str, fake_models: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[Cluster]:
    async with cluster_on(restartable_redis.url, empty_database, tmp_path, fake_models) as running:
        yield running


@pytest.mark.parametrize("down_s", [2.0, 6.0])
async def test_runs_in_flight_survive_a_redis_restart_empty(
    redis_cluster: Cluster, fake_models: FakeOpenAI, restartable_redis: RestartableRedis, down_s: float
) -> None:
    """2 s: shorter than a lease (LEASE_TTL_S=3 here); 6 s: longer, so workers stop storing meanwhile (the
    fence) and their events wait for the lease's renewal."""
    research_script(fake_models.chat, delay_s=1.0, steps=4)  # 9 model calls of 1 s: ~9 s per run
    port = await redis_cluster.add_gateway()
    redis_cluster.add_worker()
    redis_cluster.add_worker()
    redis = connect(restartable_redis.url)
    await redis_cluster.wait_workers(redis, 2)
    await redis.aclose()
    clients = [Client(n) for n in range(RUNS)]
    conversations = [asyncio.create_task(converse(port, c)) for c in clients]
    for _ in range(300):  # every run has started and is mid-way
        if all(len(c.events) >= 3 for c in clients):
            break
        await asyncio.sleep(0.05)
    assert not any(c.finished for c in clients)
    restartable_redis.kill()
    await asyncio.sleep(1.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        during = (await http.get("/health")).json()
    await asyncio.sleep(down_s - 1.0)
    restartable_redis.start_again()
    back = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*conversations), 120)
    last_answer = time.monotonic() - back
    finished = sum(1 for c in clients if c.finished)
    print(
        f"\nredis down {down_s:.0f} s: {finished}/{RUNS} runs finished; last answer {last_answer:.1f} s after it came back"
    )
    print(f"/health during the outage: {during}")
    for client in clients:
        check_complete(client, await stored_seqs(client.session_id))
    assert during["status"] == "degraded"
    assert "redis" in during and during["redis"]["status"] == "unavailable", during
    logs = redis_cluster.logs()
    assert "reading placement commands failed" not in logs, "a worker logs every retry"
    assert logs.count("Redis unreachable") == 3, "once per process per outage: " + logs  # 1 gateway, 2 workers
    assert logs.count("Redis reachable again") == 3


class Feed:
    def __init__(self) -> None:
        self.got: list[tuple[int, str]] = []
        self.caught_up = 0

    def receive(self, seq: int, text: str) -> None:
        self.got.append((seq, text))

    def catch_up(self) -> None:
        self.caught_up += 1


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not in time")


async def test_a_gateway_bus_through_a_redis_restart(restartable_redis: RestartableRedis) -> None:
    """A command in flight when Redis goes away, and one sent while it is away, are answered worker_unavailable
    at once (never resent); once Redis is back, the bus subscribes again and its feeds catch up from the store."""
    signer = BusSigner(CLUSTER_SECRET)
    redis = connect(restartable_redis.url)
    bus = GatewayBus(redis, "gw-1", signer, command_timeout_s=20.0)
    await bus.start()
    feed, session = Feed(), "s_feed_000000001"
    await bus.subscribe(session, feed)

    def status() -> Command:
        return Command(session_id=session, owner="alice", action="status", reply_to="")

    in_flight = asyncio.create_task(bus.command(status()))  # no worker: it waits for a reply
    await asyncio.sleep(0.3)
    restartable_redis.kill()
    started = time.monotonic()
    with pytest.raises(SessionCommandError) as lost:
        await asyncio.wait_for(in_flight, 10)
    assert lost.value.code == ErrorCode.WORKER_UNAVAILABLE and "try again" in lost.value.message
    with pytest.raises(SessionCommandError) as refused:
        await bus.command(status())
    assert refused.value.code == ErrorCode.WORKER_UNAVAILABLE
    assert time.monotonic() - started < 2, "answered at once, not after the command's timeout"
    assert (bus.redis_outage() or "").startswith("Redis unreachable")
    await asyncio.sleep(1.0)
    restartable_redis.start_again()
    await until(lambda: feed.caught_up == 1 and bus.redis_outage() is None)
    channel = events_channel(session)
    await redis.publish(channel, signer.seal("event", channel, EventNote(seq=1, text="after").model_dump_json()))
    await until(lambda: feed.got == [(1, "after")])
    assert bus.link.outages == 1
    await bus.stop()
    await redis.aclose()
