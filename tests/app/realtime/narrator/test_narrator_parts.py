"""The narrator's parts, each alone: transport, tools, response gate (GPT-Live delegation handling is in
tests/app/realtime/live/test_live_narrator_parts.py). No SQLite, no
AutoGen: the team is tests.support.voice.narrator_doubles.FakeTeam and the socket an in-memory double that validates every
client event with the openai SDK's own types."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from agents.events import RunFinished, Usage
from agents.stop import StopReason
from app.core.protocol import to_json, wrap
from app.core.redaction import Redactor
from app.realtime.live.intent import classify
from app.realtime.narrator.narrator import Narrator
from app.realtime.narrator.responses import ResponseGate, ResponseRequest
from app.realtime.narrator.tools import NarratorTools
from app.realtime.progress import spoken_answer
from app.realtime.team_control import team_event
from app.store.event_log import Delivery
from tests.support.voice.narrator_doubles import FAST, FakeTeam, Sockets


def realtime(sockets: Sockets, team: FakeTeam, browser: list[Any]) -> Narrator:
    return Narrator(
        connect=sockets.connect,
        team=team,
        team_log=None,
        to_browser=browser.append,
        redactor=Redactor(),
        settings=FAST,
        session_id="s_parts",
    )


def call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    item = {"id": f"item_{call_id}", "type": "function_call", "status": "completed", "name": name}
    item |= {"call_id": call_id, "arguments": json.dumps(arguments)}
    return {"type": "response.output_item.done", "response_id": "resp_x", "output_index": 0, "item": item}


async def test_a_handler_that_raises_is_not_a_dropped_socket() -> None:
    sockets, team = Sockets(), FakeTeam()
    browser: list[Any] = []
    narrator = realtime(sockets, team, browser)
    await narrator.start()
    try:
        await narrator.wait_connected()
        narrator._handler_table["response.created"] = _raise  # a bug in one handler
        sockets.current.push({"type": "response.created", "response": {"id": "resp_1"}})
        sockets.current.push({"type": "response.output_audio.delta", "item_id": "it", "delta": "AAAA"})
        for _ in range(100):
            if any(isinstance(m, bytes) for m in browser):
                break
            await asyncio.sleep(0.01)
        assert any(isinstance(m, bytes) for m in browser), "the reader stopped after the failing handler"
        assert narrator.handler_errors == 1 and narrator.connections == 1
    finally:
        await narrator.close()


async def _raise(event: dict[str, Any]) -> None:
    raise KeyError("bug")


async def test_ask_team_runs_off_the_reader() -> None:
    """ask_team waits on the team (store commits); audio keeps flowing to the page meanwhile."""
    sockets, team = Sockets(), FakeTeam()
    browser: list[Any] = []
    team.hold = asyncio.Event()
    narrator = realtime(sockets, team, browser)
    await narrator.start()
    try:
        await narrator.wait_connected()
        sockets.current.push(call("ask_team", {"task": "Weather in Paris?"}))
        sockets.current.push({"type": "response.output_audio.delta", "item_id": "it", "delta": "AAAA"})
        for _ in range(100):
            if any(isinstance(m, bytes) for m in browser):
                break
            await asyncio.sleep(0.01)
        assert any(isinstance(m, bytes) for m in browser) and team.tasks == []
        team.hold.set()
        output = await sockets.current.wait_sent(lambda e: e.get("item", {}).get("type") == "function_call_output")
        assert json.loads(output["item"]["output"])["status"] == "started"
    finally:
        await narrator.close()


async def test_tools_refuse_pause_and_cancel_unless_the_person_asked() -> None:
    team, asked = FakeTeam(), {"yes": False}
    tools = NarratorTools(team, person_asked=lambda: asked["yes"], on_started=lambda run_id: None)
    assert (await tools.run("ask_team", {"task": "Paris"}))["status"] == "started"
    assert (await tools.run("pause_team", {}))["refused"].startswith("not paused: the person did not ask")
    assert (await tools.run("cancel_team", {}))["refused"].startswith("not cancelled")
    assert team.commands == []
    asked["yes"] = True
    assert (await tools.run("pause_team", {}))["status"] == "paused"
    assert (await tools.run("pause_team", {}))["error"] == "no_active_run"  # a refusal is an output, not a crash
    assert "Unknown tool" in (await tools.run("send_to_nested", {}))["error"]


async def test_gate_matches_responses_without_metadata_echo() -> None:
    """Some Realtime-compatible servers do not echo response.metadata: the next request must not wait out the
    start timer (the spoken answer came 13 s late)."""
    sent: list[dict[str, Any]] = []

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    gate = ResponseGate(send, start_timeout_s=15.0)
    await gate.connected()
    await gate.request(ResponseRequest("tool_result"))
    await gate.request(ResponseRequest("final_answer", must_deliver=True))
    assert len(sent) == 1
    gate.on_created({"id": "resp_1", "status": "in_progress"})  # no metadata
    outcome = await gate.on_done({"id": "resp_1", "status": "completed"})
    assert outcome.request is not None and outcome.request.purpose == "tool_result"
    assert len(sent) == 2 and sent[1]["response"]["metadata"]["purpose"] == "final_answer"
    gate.close()


async def test_gate_waits_out_a_response_it_did_not_ask_for() -> None:
    sent: list[dict[str, Any]] = []

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    gate = ResponseGate(send)
    await gate.connected()
    gate.on_created({"id": "resp_srv", "metadata": {"key": "not-ours"}})
    await gate.request(ResponseRequest("reply"))
    assert sent == []  # one response at a time, even when the other is the server's
    await gate.on_done({"id": "resp_srv", "status": "completed", "metadata": {"key": "not-ours"}})
    assert len(sent) == 1
    gate.close()


def test_team_event_adapter_reads_the_typed_model_of_inbox_items() -> None:
    finished = RunFinished(
        final_answer="x",
        complete=True,
        stop_reason=StopReason.COMPLETED,
        task="t",
        duration_s=1.0,
        usage=Usage(),
        messages=2,
    )
    model = wrap(finished, seq=3, run_id="run_1", session_id="s_parts", timestamp="2026-12-01T00:00:00+00:00")
    event = team_event(Delivery(3, to_json(model)[0], model))
    assert (event.type, event.run_id, event.data["final_answer"], event.narrated) == (
        "run_finished",
        "run_1",
        "x",
        True,
    )
    assert team_event(Delivery(None, json.dumps({"type": "pong"}))).narrated is False


def test_intent_rule() -> None:
    assert classify("Stop that.").kind == "cancel"
    assert classify("OK, pause please").kind == "pause"
    assert classify("carry on").kind == "resume"
    assert classify("What's happening?").kind == "status"
    assert classify("Hmm.").kind == "none"
    assert classify("What's the weather in Paris right now?").kind == "task"
    assert classify("Why did the stock market stop rising in March?").kind == "task"  # mentions stop: a question


def test_spoken_answer_fits_commentary_and_drops_sources() -> None:
    long_answer = "Paris is 18 C and sunny [1]. " * 200 + "\nSources: https://weather.example/paris"
    event = {"type": "run_finished", "data": {"final_answer": long_answer, "stop_reason": "completed"}}
    text = spoken_answer(event)
    assert "https://" not in text and "[1]" not in text and "Sources" not in text
    assert len(text) <= 1300  # ≤ 500 tokens even at 2.6 characters a token


async def test_every_socket_failure_on_send_is_one_transport_closed() -> None:
    import pytest
    from openai import WebSocketConnectionClosedError

    from app.realtime.transport import Transport, TransportClosed
    from tests.support.voice.narrator_doubles import connection_closed

    failures: list[BaseException] = [
        connection_closed(),
        ConnectionResetError("reset"),
        OSError("broken pipe"),
        WebSocketConnectionClosedError("closed with unsent messages", unsent_messages=[]),
    ]

    class Failing:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        async def send(self, event: dict[str, Any]) -> None:
            raise self.exc

    async def nothing(*_: Any) -> None:
        return None

    transport = Transport(
        lambda: None,  # type: ignore[arg-type,return-value]
        on_open=nothing,
        on_event=nothing,
        on_lost=lambda: None,
        on_session_limit=lambda: None,
        mirror=lambda direction, event: None,
    )
    with pytest.raises(TransportClosed):
        await transport.send({"type": "x"})  # not open yet
    for exc in failures:
        transport._conn = Failing(exc)
        with pytest.raises(TransportClosed):
            await transport.send({"type": "x"})
    transport._conn = Failing(TypeError("a bug of ours"))
    with pytest.raises(TypeError):  # not a socket failure: not hidden as one
        await transport.send({"type": "x"})


async def test_gate_on_a_sideband_keeps_a_started_response_across_a_drop_and_asks_again_only_if_it_never_ends() -> None:
    sent: list[dict[str, Any]] = []

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    gate = ResponseGate(send, start_timeout_s=0.1)
    gate.keep_started_on_drop = True
    await gate.connected()
    await gate.request(ResponseRequest("final_answer", must_deliver=True))
    gate.on_created({"id": "resp_1", "status": "in_progress"})
    gate.disconnected()  # the sideband dropped: the call goes on speaking resp_1
    await gate.connected()
    assert len(sent) == 1 and gate.busy
    outcome = await gate.on_done({"id": "resp_1", "status": "completed"})  # arrives on the new attach
    assert outcome.request is not None and outcome.request.purpose == "final_answer" and len(sent) == 1
    await gate.request(ResponseRequest("final_answer", must_deliver=True))
    gate.on_created({"id": "resp_2", "status": "in_progress"})
    gate.disconnected()
    await gate.connected()  # resp_2 ended while we were away: no response.done will ever come
    await asyncio.sleep(0.2)
    assert len(sent) == 3 and sent[2]["response"]["metadata"]["purpose"] == "final_answer"
    gate.close()
