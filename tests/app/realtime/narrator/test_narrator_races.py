"""The two races of issue 13, reproduced against the narrator's parts (no SQLite, no AutoGen).

1. A socket that drops during a send raises the websockets library's ConnectionClosed: narration must go on
   after the reconnect (it used to end, and that voice connection never spoke again).
2. ResponseGate.disconnected() re-queues the request in flight: its old start watch must not fire a second
   response.create while the re-sent one is active.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.core.redaction import Redactor
from app.realtime.narrator.narrator import Narrator, NarratorSettings
from app.realtime.narrator.responses import ResponseGate, ResponseRequest
from app.realtime.team_control import TeamUpdate
from tests.support.voice.narrator_doubles import FakeTeam, Sockets


async def test_gate_watch_of_a_lost_request_does_not_resend_after_reconnect() -> None:
    sent: list[dict[str, Any]] = []

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    gate = ResponseGate(send, start_timeout_s=0.05, backoff_s=0.0)
    await gate.connected()
    await gate.request(ResponseRequest("final_answer", must_deliver=True))
    assert len(sent) == 1
    await asyncio.sleep(0.03)
    gate.disconnected()  # the socket dropped with the request in flight
    await gate.connected()  # re-sent on the new connection
    assert len(sent) == 2
    await asyncio.sleep(0.035)  # the first watch would fire now; the re-sent one is still waiting its start
    try:
        assert len(sent) == 2, "a second response.create went out while one was in flight"
    finally:
        gate.close()


async def test_narration_goes_on_after_connection_closed_during_a_send() -> None:
    """The socket drops (ConnectionClosed, not ConnectionError) exactly while the answer's item is being sent:
    the answer is narrated again on the new connection and the narrator keeps speaking afterwards."""
    sockets, team = Sockets(), FakeTeam()
    narrator = Narrator(
        connect=sockets.connect,
        team=team,
        team_log=None,
        to_browser=lambda m: None,
        redactor=Redactor(),
        settings=NarratorSettings(reconnect_delays_s=(0.01,), max_progress_updates=0),
        session_id="s_race",
    )
    await narrator.start()
    try:
        await narrator.wait_connected()
        first = sockets.current
        first.fail_when = lambda e: "[RUN_FINISHED]" in json.dumps(e)
        narrator.offer_narration(finished("run_1", "It is 18 C in Paris."))
        second = await sockets.wait_opened(2)
        await second.wait_sent(lambda e: e["type"] == "response.create")
        assert [i["item"]["content"][0]["text"] for i in second.of_type("conversation.item.create")][-1] == (
            "[RUN_FINISHED] It is 18 C in Paris."
        )
        narrator.offer_narration(finished("run_2", "Berlin: 12 C."))  # narration did not end
        await second.wait_sent(lambda e: "Berlin" in json.dumps(e))
    finally:
        await narrator.close()


def finished(run_id: str, answer: str) -> TeamUpdate:
    return TeamUpdate(
        "run_finished", run_id, {"final_answer": answer, "stop_reason": "completed", "complete": True}, "{}"
    )
