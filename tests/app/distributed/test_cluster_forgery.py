"""A real gateway and worker (tests/support/cluster.py) with someone else writing into their Redis (issue 22): forged
commands are counted on the worker's /metrics and start nothing, while the gateway's own signed commands work."""

from __future__ import annotations

import asyncio
import time

import httpx

from app.distributed.bus import PLACEMENT_STREAM, Command, connect
from app.distributed.signing import BusSigner
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

pytestmark = NEEDS_POSTGRES  # the cluster's fixtures are in conftest.py


async def test_forged_commands_in_a_real_cluster(
    cluster: Cluster, fake_models: FakeOpenAI, redis_server: RedisServer
) -> None:
    research_script(fake_models.chat, delay_s=0.02, steps=1)
    port = await cluster.add_gateway()
    metrics_port = free_port()
    cluster.add_worker(WORKER_METRICS_PORT=str(metrics_port))
    redis = connect(redis_server.url)
    await cluster.wait_workers(redis, 1)
    victim = Client(1)
    await converse(port, victim)  # alice's session, through the gateway: signed, served
    now = time.time()
    forged = Command(
        session_id=victim.session_id,
        owner="local",
        action="task",
        text="Q[666] spend the key",
        reply_to="gateway-attacker",
        issued_at=now,
        deadline=now + 10,
    )
    attempts = [
        {"c": forged.model_dump_json()},  # unsigned
        {"c": forged.model_dump_json(), "s": "f" * 64},  # a made-up MAC
        BusSigner("a-guessed-secret-" + "z" * 32).seal_command(forged),  # a wrong secret
    ]
    for fields in attempts:
        await redis.xadd(PLACEMENT_STREAM, fields)  # type: ignore[arg-type]
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            name = "research_team_worker_commands_refused_total"
            unsigned = metric(text, f'{name}{{reason="unsigned"}}')
            forged_count = metric(text, f'{name}{{reason="bad_signature"}}')
            if unsigned + forged_count == len(attempts):
                break
            await asyncio.sleep(0.1)
    assert (unsigned, forged_count) == (1, 2)
    await asyncio.sleep(0.5)
    check_complete(victim, await stored_seqs(victim.session_id))  # nothing more was stored: no run started
    assert not [c for c in fake_models.chat.calls("manager") if "Q[666]" in str(c.messages)]
    await redis.aclose()
