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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.distributed.bus import connect
from tests.cluster import Cluster, RedisServer, research_script
from tests.fakes import FakeOpenAI
from tests.test_distributed import Client, check_complete, converse, empty_database, fake_models, stored_seqs

__all__ = ["empty_database", "fake_models"]  # fixtures, imported for pytest

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
    running = Cluster(restartable_redis.url, empty_database, tmp_path, fake_models.env())
    try:
        yield running
    finally:
        running.stop()
        print(running.logs())  # pytest shows it when the test failed


async def test_runs_in_flight_survive_a_redis_restart_empty(
    redis_cluster: Cluster, fake_models: FakeOpenAI, restartable_redis: RestartableRedis
) -> None:
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
    await asyncio.sleep(1.0)
    restartable_redis.start_again()
    back = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*conversations), 120)
    last_answer = time.monotonic() - back
    print(f"\nredis restart: {RUNS}/{RUNS} runs finished; last answer {last_answer:.1f} s after Redis came back")
    print(f"/health during the outage: {during}")
    for client in clients:
        check_complete(client, await stored_seqs(client.session_id))
    assert during["status"] == "degraded"
    assert "redis" in during and during["redis"]["status"] == "unavailable", during
    logs = redis_cluster.logs()
    assert "reading placement commands failed" not in logs, "a worker logs every retry"
    assert logs.count("Redis unreachable") == 3, "once per process per outage: " + logs  # 1 gateway, 2 workers
    assert logs.count("Redis reachable again") == 3
