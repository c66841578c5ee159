"""Gateways and workers as real processes on Debian's redis-server and PostgreSQL (tests/support/cluster.py).

- 100 concurrent sessions across 1 gateway + 2 workers: each gets its own answer, every seq in order, stored;
- a worker SIGKILLed while 20 runs are mid-way: every run resumes on the other worker (clients told with
  run_resumed) and finishes with its answer; no event lost or duplicated;
- a gateway SIGKILLed: clients reconnect to the other with ?after= and lose nothing.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from app.distributed.bus import connect
from tests.fakes import FakeOpenAI
from tests.support.cli import free_port
from tests.support.cluster import (
    NEEDS_POSTGRES,
    Client,
    Cluster,
    RedisServer,
    check_complete,
    converse,
    metric,
    research_script,
    stored_seqs,
)
from tests.support.voice.client import VoiceClient

pytestmark = NEEDS_POSTGRES


async def test_100_sessions_across_two_workers_each_get_their_own_answer(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer
) -> None:
    research_script(fake_models.chat, delay_s=0.05)
    port = await cluster.add_gateway()
    metrics_ports = [free_port(), free_port()]
    for metrics_port in metrics_ports:
        cluster.add_worker(WORKER_METRICS_PORT=str(metrics_port))
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 2)
    clients = [Client(n) for n in range(100)]
    await asyncio.gather(*(converse(port, c) for c in clients))
    for client in clients:
        check_complete(client, await stored_seqs(client.session_id))
    hosts = {s: await redis.get(f"rt:lease:{s}") for s in (c.session_id for c in clients)}
    assert len(set(hosts.values())) == 2, "both workers took sessions"
    completed = held = 0.0
    async with httpx.AsyncClient() as http:
        for metrics_port in metrics_ports:  # runs are counted where they ran: on the workers
            text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            completed += metric(text, 'research_team_runs_total{outcome="completed"}')
            held += metric(text, "research_team_worker_sessions")
    assert completed == 100 and held == 100
    await redis.aclose()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
async def test_a_worker_killed_mid_run_its_runs_resume_on_the_other(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer, how: str
) -> None:
    """SIGKILL: a crash, the runs move when the leases expire. SIGTERM: a clean stop (a rolling restart) hands
    the sessions over at once, without ending their runs."""
    # Runs long enough (17 model calls of 0.4 s) to be mid-way when the kill comes: a second worker can take
    # several seconds to start on a loaded 2-core machine, and runs that finished before the kill prove nothing.
    research_script(fake_models.chat, delay_s=0.4, steps=8)
    port = await cluster.add_gateway()
    first = cluster.add_worker()
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 1)
    clients = [Client(n) for n in range(20)]
    conversations = [asyncio.create_task(converse(port, c)) for c in clients]
    for _ in range(100):  # every run has its first step or two done
        if all(len(c.events) >= 4 for c in clients):
            break
        await asyncio.sleep(0.05)
    assert not any(c.finished for c in clients)
    cluster.add_worker()
    await cluster.wait_workers(redis, 2)
    assert not any(c.finished for c in clients), "runs finished before the kill: the second worker started late"
    first.kill() if how == "SIGKILL" else first.stop()
    await asyncio.wait_for(asyncio.gather(*conversations), 120)
    for client in clients:
        check_complete(client, await stored_seqs(client.session_id))
        assert "run_resumed" in client.types(), f"Q[{client.number}] was not told: {client.types()}"
        assert client.types().count("run_started") == 1
    await redis.aclose()


async def test_a_gateway_killed_clients_reconnect_to_the_other_and_lose_nothing(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer
) -> None:
    research_script(fake_models.chat, delay_s=0.3, steps=3)
    doomed = await cluster.add_gateway()
    survivor = await cluster.add_gateway()
    cluster.add_worker()
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 1)
    clients = [Client(n) for n in range(10)]
    first_legs = [asyncio.create_task(converse(doomed, c)) for c in clients]
    for _ in range(100):
        if all(len(c.events) >= 3 for c in clients):
            break
        await asyncio.sleep(0.05)
    cluster.gateways[0][0].kill()
    results = await asyncio.gather(*first_legs, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results), "the killed gateway's connections broke"
    await asyncio.gather(*(converse(survivor, c, after=max(c.order)) for c in clients))
    for client in clients:
        check_complete(client, await stored_seqs(client.session_id))
    await redis.aclose()


async def test_commands_sent_to_another_gateway_reach_the_sessions_worker(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer
) -> None:
    research_script(fake_models.chat, delay_s=0.3, steps=3)
    first, second = await cluster.add_gateway(), await cluster.add_gateway()
    cluster.add_worker()
    cluster.add_worker()
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 2)
    watcher = Client(7)
    watching = asyncio.create_task(converse(first, watcher))  # asks Q[7] on the first gateway
    while not watcher.events:
        await asyncio.sleep(0.05)
    async with websockets.connect(f"ws://127.0.0.1:{second}/ws/team?session={watcher.session_id}") as other:
        hello = json.loads(await other.recv())
        assert hello["data"]["resumed"] is True and hello["data"]["state"] == "running"
        await other.send(json.dumps({"type": "pause"}))
        while "paused" not in [e["data"].get("state") for e in watcher.events.values() if e["type"] == "system"]:
            await asyncio.sleep(0.05)
        await other.send(json.dumps({"type": "status", "id": "s1"}))
        status = json.loads(await other.recv())
        while status["type"] != "status":
            status = json.loads(await other.recv())
        assert status["data"]["state"] == "paused" and status["data"]["task"].startswith("Q[7]")
        await other.send(json.dumps({"type": "resume"}))
        await asyncio.wait_for(watching, 60)
    check_complete(watcher, await stored_seqs(watcher.session_id))
    await redis.aclose()


async def test_a_session_closed_for_idleness_comes_back_with_its_memory(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer
) -> None:
    """Its worker closes it and gives up the lease; the next task places it again (on either worker), and the
    team still knows the first question: the memory came back from the checkpoint."""
    research_script(fake_models.chat, delay_s=0.02, steps=1)
    cluster.env["SESSION_IDLE_S"] = "1"
    port = await cluster.add_gateway()
    cluster.add_worker()
    cluster.add_worker()
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 2)
    client = Client(1)
    await converse(port, client)
    for _ in range(100):
        if await redis.get(f"rt:lease:{client.session_id}") is None:
            break
        await asyncio.sleep(0.1)
    assert await redis.get(f"rt:lease:{client.session_id}") is None, "the idle session was not closed"
    follow_up = Client(2, session_id=client.session_id)
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/team?session={client.session_id}") as ws:
        assert json.loads(await ws.recv())["data"]["resumed"] is True
        await ws.send(json.dumps({"type": "task", "text": "Q[2] and what about that?"}))
        while follow_up.finished is None:
            follow_up.take(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    assert follow_up.finished["data"]["final_answer"].startswith("ANSWER Q[")
    last_manager_call = fake_models.chat.calls("manager")[-1]
    prompt = "\n".join(str(m.get("content")) for m in last_manager_call.messages)
    assert "Q[1]" in prompt and "Q[2]" in prompt, "the team forgot the first question"
    await redis.aclose()


async def test_a_spoken_question_through_a_gateway_is_answered_by_a_worker(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer
) -> None:
    """The narrator runs on the gateway that holds the voice socket; the team on a worker. The question goes
    through the narrator's ask_team to the worker, and the answer comes back to be spoken and shown."""
    research_script(fake_models.chat, delay_s=0.05, steps=1)
    cluster.env.update(VOICE_API="realtime", VOICE_TRANSPORT="relay")
    port = await cluster.add_gateway()
    cluster.add_worker()
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 1)
    voice = VoiceClient(await websockets.connect(f"ws://127.0.0.1:{port}/ws/voice", max_size=None))
    await voice.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready", timeout=30)
    await fake_models.realtime.aspeak_user("Q[5] what is the answer?")
    await fake_models.realtime.until(
        lambda rt: any("ANSWER Q[5]" in text for text in rt.spoken()), timeout=30, what="the answer spoken"
    )
    finished = voice.team_events("run_finished")
    assert finished and finished[0]["data"]["final_answer"].startswith("ANSWER Q[5]")
    assert fake_models.realtime.function_calls()[0][0] == "ask_team"
    fake_models.assert_clean()
    await voice.close()
    await redis.aclose()


async def test_a_gateway_without_a_live_worker_says_so_in_health(cluster: Cluster, redis_server: RedisServer) -> None:
    port = await cluster.add_gateway()
    redis = connect(redis_server.url)
    await redis.hset("rt:workers", "worker-crashed-long-ago", str(time.time() - 7200))  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        alone = (await http.get("/health")).json()
        assert alone["status"] == "degraded" and alone["role"] == "gateway" and alone["workers"] == 0
        assert not await redis.hexists("rt:workers", "worker-crashed-long-ago"), "a dead worker's entry stays"  # type: ignore[misc]
        cluster.add_worker()
        await cluster.wait_workers(redis, 1)
        served = (await http.get("/health")).json()
        assert served["status"] == "ok" and served["workers"] == 1
    await redis.aclose()
