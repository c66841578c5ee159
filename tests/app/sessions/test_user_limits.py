"""Per-user limits on what spends: runs in flight at once, USD per day (issue 22). Each test is the attack:
one user tries to take more than their share while another user is still served."""

from __future__ import annotations

from pathlib import Path

from app.core.prices import ModelPrice
from tests.support.live_server import LiveServer, ScriptBook, WsClient, live_app, scripted_app
from tests.support.scripted import paris_script

ALICE, BOB = "alice-token-" + "a" * 24, "bob-token-" + "b" * 24
USERS = {"alice": ALICE, "bob": BOB}


async def _connect(server: LiveServer, token: str | None) -> WsClient:
    client = await server.connect(token=token)
    await client.recv()
    return client


async def test_one_user_cannot_run_more_than_max_runs_per_user_at_once(tmp_path: Path) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=1.5))
    app = scripted_app(tmp_path, book, app_users=USERS, max_runs_per_user=2, user_usd_per_day=5.0)
    async with live_app(app) as server:
        alice = [await _connect(server, ALICE) for _ in range(3)]
        for client in alice[:2]:
            await client.send({"type": "task", "text": "Weather in Paris?"})
            started = await client.until_type("run_started")
            assert started["data"]["budget"]["max_usd"] == 2.5  # the day's $5 shared by the 2 runs allowed at once
        await alice[2].send({"type": "task", "text": "Weather in Paris?"})
        refused = await alice[2].until_type("error")
        assert refused["data"]["code"] == "too_many_runs" and "MAX_RUNS_PER_USER" in refused["data"]["message"]
        bob = await _connect(server, BOB)  # another user is served meanwhile
        await bob.send({"type": "task", "text": "Weather in Paris?"})
        await bob.until_type("run_started")
        for client in alice[:2]:
            assert (await client.until_type("run_finished", timeout=20))["data"]["stop_reason"] == "completed"
        await alice[2].send({"type": "task", "text": "Weather in Paris?"})  # a place is free again
        assert (await alice[2].until_type("run_finished", timeout=20))["data"]["stop_reason"] == "completed"
        for client in [*alice, bob]:
            await client.close()


async def test_one_user_cannot_spend_more_than_user_usd_per_day(tmp_path: Path) -> None:
    dear = {"gpt-6-luna": ModelPrice(input=100_000.0, output=100_000.0)}  # a run costs dollars here
    app = scripted_app(
        tmp_path,
        ScriptBook(lambda: paris_script(runs=2)),
        app_users=USERS,
        model_prices=dear,
        user_usd_per_day=5.0,
        max_runs_per_user=1,  # one run may take the whole day's allowance
    )
    async with live_app(app) as server:
        alice = await _connect(server, ALICE)
        await alice.send({"type": "task", "text": "Weather in Paris?"})
        started = await alice.until_type("run_started")
        assert started["data"]["budget"]["max_usd"] == 5.0  # the day's whole allowance, no more
        first = (await alice.until_type("run_finished", timeout=20))["data"]
        assert first["spent"]["usd"] >= 5.0 and first["stop_reason"] == "budget"  # stopped at the day's limit
        await alice.send({"type": "task", "text": "And tomorrow?"})
        refused = await alice.until_type("error")
        assert refused["data"]["code"] == "spending_limit" and "USER_USD_PER_DAY" in refused["data"]["message"]
        bob = await _connect(server, BOB)
        await bob.send({"type": "task", "text": "Weather in Paris?"})
        assert (await bob.until_type("run_started"))["data"]["budget"]["max_usd"] == 5.0
        await bob.until_type("run_finished", timeout=20)
        await alice.close()
        await bob.close()


async def test_a_task_asking_for_less_keeps_its_own_usd_budget(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_users=USERS, user_usd_per_day=5.0)
    async with live_app(app) as server:
        client = await _connect(server, ALICE)
        await client.send({"type": "task", "text": "Weather?", "budget": {"max_usd": 0.5}})
        assert (await client.until_type("run_started"))["data"]["budget"]["max_usd"] == 0.5
        await client.until_type("run_finished", timeout=20)
        await client.close()


async def test_the_local_owner_of_a_server_without_users_is_not_limited(tmp_path: Path) -> None:
    """Scripts and benches run many sessions at once on a single-user server: nobody to share it with."""
    book = ScriptBook(lambda: paris_script(researcher_delay=0.5))
    async with live_app(scripted_app(tmp_path, book, max_runs_per_user=1, user_usd_per_day=5.0)) as server:
        clients = [await _connect(server, None) for _ in range(3)]
        for client in clients:
            await client.send({"type": "task", "text": "Weather in Paris?"})
        for client in clients:
            started = await client.until_type("run_started")
            assert started["data"]["budget"]["max_usd"] is None
            assert (await client.until_type("run_finished", timeout=20))["data"]["stop_reason"] == "completed"
            await client.close()
