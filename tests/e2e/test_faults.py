"""Faults: the model API fails (500, 429, timeout), a tool raises, the server is killed mid-run.

Model faults go through AutoGen's real OpenAIChatCompletionClient and the openai SDK against the fake OpenAI
server: the SDK retries with backoff (honouring Retry-After); a fault that outlasts the retries ends the run
with a clear error code, and the same session then runs the next task. Each case prints its figures.
Elsewhere: the realtime socket dropping mid-run (test_narrator.py::test_socket_drop_mid_run_reconnects_and_
answer_is_spoken) and the client socket dropping mid-run and reconnecting (test_team_ws.py::test_reconnect_
after_seq_returns_exactly_the_missed_events).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from app.store.run_store import RunStore
from bench.server_process import ServerProcess
from tests.fakes.chat import ErrorReply, delay, rate_limited, tool_call
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import live_app, openai_app

OK_ANSWER = "Paris is sunny."
RETRIES = 2  # model_max_retries: three attempts in all
MODEL_TIMEOUT_S = 1.5


@dataclass(frozen=True)
class ModelFault:
    replies: tuple[Any, ...]  # the Manager's first replies: the fault, as many times as it lasts
    outcome: str  # "completed" or the run error's code
    min_backoff_s: float  # the shortest wait the SDK may take between two attempts


FAULTS = {
    "500 once": ModelFault((ErrorReply(500, "upstream exploded"),), "completed", 0.375),
    "429 once, Retry-After 0.3 s": ModelFault((rate_limited(0.3),), "completed", 0.3),
    "500 every time": ModelFault((ErrorReply(500, "upstream exploded"),) * (RETRIES + 1), "model_error", 0.375),
    "429 every time": ModelFault((rate_limited(0.3),) * (RETRIES + 1), "model_rate_limited", 0.3),
    "timeout every time": ModelFault((delay(5.0, OK_ANSWER + "\nTERMINATE"),) * (RETRIES + 1), "model_timeout", 0.375),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_model_fault_retried_then_reported_and_session_usable(
    tmp_path: Path, fake_openai: FakeOpenAI, name: str
) -> None:
    fault = FAULTS[name]
    chat = fake_openai.chat
    chat.add("manager", *fault.replies)
    chat.add("manager", OK_ANSWER + "\nTERMINATE", OK_ANSWER + "\nTERMINATE")
    # Long enough that a loaded machine does not turn a 500 into a timeout; the timeout case waits 5 s per attempt.
    app = openai_app(tmp_path, fake_openai, model_max_retries=RETRIES, model_timeout_s=MODEL_TIMEOUT_S)
    async with live_app(app) as server:
        client = await server.connect()
        await client.recv()
        started = time.monotonic()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        first = await client.until(lambda e: e["type"] == "run_finished", timeout=30)
        elapsed = time.monotonic() - started
        attempts = chat.calls("manager")
        gaps = [b.time - a.time for a, b in zip(attempts, attempts[1:])]
        if fault.outcome == "completed":
            assert first["data"]["stop_reason"] == "completed" and first["data"]["final_answer"] == OK_ANSWER
            assert len(attempts) == len(fault.replies) + 1
        else:
            error = next(e for e in client.received if e["type"] == "error" and e["run_id"] == first["run_id"])
            assert error["data"]["code"] == fault.outcome, error
            assert error["data"]["message"] and "sk-" not in json.dumps(error)
            assert first["data"]["stop_reason"] == "error" and len(attempts) == RETRIES + 1
            # The session is usable: the next task runs and is answered.
            await client.send({"type": "task", "text": "Weather in Paris?"})
            second = await client.until(
                lambda e: e["type"] == "run_finished" and e["run_id"] != first["run_id"], timeout=30
            )
            assert second["data"]["final_answer"] == OK_ANSWER
        timeout_s = MODEL_TIMEOUT_S if "timeout" in name else 0.0
        assert all(gap >= fault.min_backoff_s + timeout_s for gap in gaps), gaps  # backoff, not a hot loop
        await client.close()
    print(
        f"\n{name:<30} {len(attempts)} attempts, waits {', '.join(f'{g:.2f}' for g in gaps)} s, "
        f"then {fault.outcome} after {elapsed:.2f} s"
    )


async def test_tool_that_raises_is_told_to_the_model_and_the_run_completes(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    chat = fake_openai.chat
    chat.add(
        "manager",
        "TASK: Look up the weather in Paris.\nNEXT AGENT: Researcher",
        "The lookup service is down, so I could not get the Paris weather.\nTERMINATE",
    )
    chat.add(
        "researcher",
        tool_call("broken_lookup", {"query": "Paris weather"}),
        "The lookup tool failed (its service crashed); no weather data.",
    )
    async with live_app(openai_app(tmp_path, fake_openai)) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        done = await client.until(lambda e: e["type"] == "run_finished", timeout=20)
        assert done["data"]["stop_reason"] == "completed"
        result = next(e for e in client.received if e["type"] == "ToolCallExecutionEvent")
        assert result["data"]["content"][0]["is_error"] is True
        # The model saw the failure as the tool's result and could explain it.
        reflection = chat.calls("researcher")[1].body["messages"]
        assert any(m["role"] == "tool" and "crashed" in m["content"] for m in reflection)
        await client.close()
    fake_openai.assert_clean()


async def test_server_killed_mid_run_run_interrupted_client_told_store_whole(tmp_path: Path) -> None:
    """SIGKILL the real server process while a model call is in flight, start a new one on the same database,
    reconnect: the run is `interrupted`, the client is told, and the store holds every event up to the kill,
    with seqs 1..n and no gap, no duplicate, no torn row."""
    async with ServerProcess(tmp_path, model_delay=3.0) as server:
        async with websockets.connect(server.ws_url + "/ws/team") as conn:
            session_id = json.loads(await conn.recv())["data"]["session_id"]
            await conn.send(json.dumps({"type": "task", "text": "What is the weather in Paris?"}))
            seen: list[dict[str, Any]] = []
            while not seen or seen[-1]["type"] != "run_started":
                seen.append(json.loads(await asyncio.wait_for(conn.recv(), 10)))
            run_id = seen[-1]["run_id"]
            await asyncio.sleep(0.5)  # the Manager's first model call is in flight (3 s)
            server.kill()
    store = RunStore(server.database_url)
    await store.start()
    try:
        before = [json.loads(text) for _, text in await store.events_after(session_id, 0)]
        crashed = await store.get_run(run_id, owner=None)
        assert crashed is not None and crashed["status"] == "running"  # as the crash left it
    finally:
        await store.stop()
    assert [e["seq"] for e in before] == list(range(1, len(before) + 1))
    last_seq = before[-1]["seq"]
    async with ServerProcess(tmp_path) as restarted:
        async with httpx.AsyncClient(base_url=restarted.http_url) as http:
            run = (await http.get(f"/runs/{run_id}")).json()
        assert run["status"] == "interrupted"
        async with websockets.connect(f"{restarted.ws_url}/ws/team?session={session_id}&after=0") as conn:
            replay: list[dict[str, Any]] = []
            while not replay or replay[-1]["type"] != "run_finished":
                replay.append(json.loads(await asyncio.wait_for(conn.recv(), 10)))
        events = [e for e in replay if e["seq"] is not None]
        assert events[:last_seq] == before  # everything stored before the kill, unchanged
        told = events[-1]
        assert told["run_id"] == run_id and told["data"]["stop_reason"] == "interrupted"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    print(
        f"\nkilled mid-run: {last_seq} events stored before the kill, run marked interrupted, "
        f"client told with seq {told['seq']}"
    )
