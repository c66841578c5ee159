"""A worker's hold on its sessions (app/distributed): a lost lease stops the session without a word, and a
worker whose renewals stopped (frozen, cut off from Redis) refuses to store anything once its lease may have
passed to another; a checkpoint stored with each event brings the team's memory back on the next worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.events import TeamMessage
from agents.session.checkpoint import read_checkpoint
from app.distributed.bus import connect, lease_key
from app.distributed.worker.worker import Worker
from app.store.run_store import RunStore, StoreError
from tests.support.cluster import RedisServer, scripted_worker
from tests.support.live_server import make_settings

SESSION = "s_lease_test_0001"


@pytest.fixture
async def worker(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Worker]:
    settings = make_settings(tmp_path)
    store = RunStore(settings.database_url)
    await store.start()
    async with scripted_worker("w-test", redis_server.url, store, settings, lease_ttl_s=0.6) as node:
        yield node
    await store.stop()


async def test_a_lost_lease_stops_the_session_and_nothing_more_is_stored(
    worker: Worker, redis_server: RedisServer
) -> None:
    hosted = await worker.host(SESSION, "local")
    assert hosted is not None
    await hosted.log.publish(TeamMessage(type="TextMessage", data={"n": 1}), None)
    redis = connect(redis_server.url)
    await redis.set(lease_key(SESSION), "w-other", px=5000)  # another worker took it over
    for _ in range(50):
        if SESSION not in worker.hosted:
            break
        await asyncio.sleep(0.05)
    assert SESSION not in worker.hosted and hosted.log.fenced
    with pytest.raises(StoreError):
        await hosted.log.publish(TeamMessage(type="TextMessage", data={"n": 2}), None)
    assert await worker._store.max_seq(SESSION) == 1  # the store the worker writes to
    assert await redis.get(lease_key(SESSION)) == "w-other", "the new holder's lease is left alone"
    await redis.aclose()


async def test_a_worker_whose_renewals_stopped_refuses_to_store(worker: Worker) -> None:
    hosted = await worker.host(SESSION, "local")
    assert hosted is not None
    await hosted.log.publish(TeamMessage(type="TextMessage", data={"n": 1}), None)
    worker.leases._stop.set()  # freeze the heartbeat, as a long GC pause or a partition would
    assert worker.leases._thread is not None
    worker.leases._thread.join(2)
    await asyncio.sleep(0.6)  # a whole lease without renewal: another worker may hold the session now
    with pytest.raises(StoreError):
        await hosted.log.publish(TeamMessage(type="TextMessage", data={"n": 2}), None)
    assert await worker._store.max_seq(SESSION) == 1


async def test_a_finished_run_leaves_a_checkpoint_with_the_teams_memory(worker: Worker) -> None:
    hosted = await worker.host(SESSION, "local")
    assert hosted is not None
    await hosted.session.submit_task("What is the weather in Paris?")
    await hosted.session.wait_idle(30)
    saved = await worker._store.load_checkpoint(SESSION)
    assert saved is not None
    covered, stored = saved
    checkpoint = read_checkpoint(stored.state, stored.memory)
    assert covered == hosted.log.last_seq - 1  # the run's end ("Ready." after it changes nothing)
    assert checkpoint.run is None and checkpoint.snapshot is not None
    assert stored.memory is not None and "Paris" in stored.memory and "Paris" not in stored.state  # apart
    assert checkpoint.meter.total["model_calls"] > 0


async def test_a_lease_that_expired_with_nobody_else_holding_it_is_taken_back(
    worker: Worker, redis_server: RedisServer
) -> None:
    hosted = await worker.host(SESSION, "local")
    assert hosted is not None
    redis = connect(redis_server.url)
    await redis.delete(lease_key(SESSION))  # expired (a slow heartbeat), and no other worker claimed it
    for _ in range(40):
        if await redis.get(lease_key(SESSION)) == "w-test":
            break
        await asyncio.sleep(0.05)
    assert await redis.get(lease_key(SESSION)) == "w-test" and SESSION in worker.hosted
    await hosted.log.publish(TeamMessage(type="TextMessage", data={"n": 1}), None)
    await redis.aclose()
