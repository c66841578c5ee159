"""The GPT-Live narrator's parts, each alone: delegations become tasks and answers commentary, stop requests, an
answer owed across a drop, audio to the page, session renewal, the intent model. No SQLite, no AutoGen: the team is
tests.support.voice.narrator_doubles.FakeTeam and the socket an in-memory double that validates every client event with
the openai SDK's own types."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from app.core.redaction import Redactor
from app.core.voice_settings import VoiceSettings
from app.realtime.live.narrator import LiveNarrator
from app.realtime.team_control import TeamUpdate
from tests.support.voice.narrator_doubles import FakeTeam, Sockets

LIVE = VoiceSettings(_env_file=None, voice_api="live", live_progress_every_s=0.0, live_acknowledgement_delay_ms=0)


def live(sockets: Sockets, team: FakeTeam, browser: list[Any]) -> LiveNarrator:
    return LiveNarrator(
        connect=sockets.connect,
        team=team,
        team_log=None,
        to_browser=browser.append,
        redactor=Redactor(),
        settings=LIVE,
        session_id="s_live",
        reconnect_delays_s=(0.01,),
    )


def said(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "session.input_transcript.delta", "event_id": f"ev_{i}", "delta": w + " ", "start_ms": i, "end_ms": i}
        for i, w in enumerate(text.split())
    ]


def delegation(dlg: str) -> dict[str, Any]:
    return {
        "type": "session.delegation.created",
        "event_id": "ev_d",
        "offset_ms": 10,
        "delegation": {"id": dlg, "target": "client", "type": "delegation"},
    }


async def test_live_delegation_becomes_a_task_then_the_answer_is_commentary_for_it() -> None:
    sockets, team = Sockets(live=True), FakeTeam()
    browser: list[Any] = []
    narrator = live(sockets, team, browser)
    await narrator.start()
    try:
        await narrator.wait_connected()
        start = sockets.current.sent[0]
        assert start["type"] == "session.start" and start["session"]["delegation"]["type"] == "client"
        for event in [*said("What's the weather in Paris?"), delegation("dlg_1")]:
            sockets.current.push(event)
        ack = await sockets.current.wait_sent(lambda e: e["type"] == "session.thinking.append")
        assert ack["delegation_id"] == "dlg_1" and team.tasks == ["What's the weather in Paris?"]
        narrator.offer_narration(TeamUpdate("run_started", "run_1"))
        tool = {"source": "Researcher", "content": [{"name": "web_search", "arguments": '{"query": "Paris"}'}]}
        narrator.offer_narration(TeamUpdate("ToolCallRequestEvent", "run_1", tool))
        progress = await sockets.current.wait_sent(lambda e: "searching the web" in e.get("content", ""))
        assert progress["type"] == "session.thinking.append" and progress["delegation_id"] == "dlg_1"
        narrator.offer_narration(
            TeamUpdate("run_finished", "run_1", {"final_answer": "18 C and sunny.", "stop_reason": "completed"})
        )
        answer = await sockets.current.wait_sent(lambda e: e["type"] == "session.commentary.append")
        assert answer["delegation_id"] == "dlg_1" and "18 C and sunny." in answer["content"]
    finally:
        await narrator.close()


async def test_live_stop_that_cancels_and_a_model_delegation_without_words_does_not() -> None:
    sockets, team = Sockets(live=True), FakeTeam()
    browser: list[Any] = []
    narrator = live(sockets, team, browser)
    await narrator.start()
    try:
        await narrator.wait_connected()
        await team.submit_task("Weather in Paris?")
        sockets.current.push(delegation("dlg_empty"))  # the model delegates with no words of the person's
        note = await sockets.current.wait_sent(lambda e: e.get("delegation_id") == "dlg_empty", timeout=3)
        assert team.commands == [] and "nothing was sent" in note["content"]
        for event in [*said("Stop that."), delegation("dlg_stop")]:
            sockets.current.push(event)
        reply = await sockets.current.wait_sent(lambda e: e.get("delegation_id") == "dlg_stop")
        assert reply["type"] == "session.commentary.append" and "cancelled" in reply["content"]
        assert team.commands == ["cancel"]
    finally:
        await narrator.close()


async def test_live_answer_owed_across_a_drop_goes_to_the_new_session_without_the_old_id() -> None:
    sockets, team = Sockets(live=True), FakeTeam()
    browser: list[Any] = []
    narrator = live(sockets, team, browser)
    await narrator.start()
    try:
        await narrator.wait_connected()
        for event in [*said("Weather in Paris?"), delegation("dlg_1")]:
            sockets.current.push(event)
        await sockets.current.wait_sent(lambda e: e["type"] == "session.thinking.append")
        sockets.current.fail_when = lambda e: e["type"] == "session.commentary.append"  # drops as it is sent
        narrator.offer_narration(
            TeamUpdate("run_finished", "run_1", {"final_answer": "18 C.", "stop_reason": "completed"})
        )
        second = await sockets.wait_opened(2)
        answer = await second.wait_sent(lambda e: e["type"] == "session.commentary.append")
        assert answer["delegation_id"] is None and "18 C." in answer["content"]
        assert "Weather in Paris?" in second.sent[0]["session"]["input"][0]["content"][0]["text"]  # context kept
        await asyncio.sleep(0.05)
        assert len(second.of_type("session.commentary.append")) == 1  # delivered once
    finally:
        await narrator.close()


async def test_live_audio_reaches_the_page_and_speech_over_it_stops_playback() -> None:
    sockets, team = Sockets(live=True), FakeTeam()
    browser: list[Any] = []
    narrator = live(sockets, team, browser)
    await narrator.start()
    try:
        await narrator.wait_connected()
        pcm = base64.b64encode(b"\x01\x00" * 240).decode()
        sockets.current.push({"type": "session.output_audio.delta", "delta": pcm})
        sockets.current.push(said("wait")[0])
        for _ in range(100):
            if {"type": "playback.stop"} in browser:
                break
            await asyncio.sleep(0.01)
        assert any(isinstance(m, bytes) and len(m) == 480 for m in browser)
        assert {"type": "playback.stop"} in browser and team.commands == []  # barge-in never cancels work
    finally:
        await narrator.close()


async def test_live_session_is_renewed_before_its_limit_with_the_conversation_as_history() -> None:
    sockets, team = Sockets(live=True), FakeTeam()
    browser: list[Any] = []
    settings = VoiceSettings(_env_file=None, voice_api="live", live_session_max_s=0.3, live_acknowledgement_delay_ms=0)
    narrator = LiveNarrator(
        connect=sockets.connect,
        team=team,
        team_log=None,
        to_browser=browser.append,
        redactor=Redactor(),
        settings=settings,
        session_id="s_renew",
        reconnect_delays_s=(0.01,),
    )
    await narrator.start()
    try:
        await narrator.wait_connected()
        for event in [*said("What's the weather in Paris?"), delegation("dlg_1")]:
            sockets.current.push(event)
        await sockets.current.wait_sent(lambda e: e["type"] == "session.thinking.append")
        second = await sockets.wait_opened(2)
        history = second.sent[0]["session"]["input"][0]["content"][0]["text"]
        assert "What's the weather in Paris?" in history and "running" in history
        assert sockets.opened[0].closed
    finally:
        await narrator.close()


class _Completions:
    def __init__(self, reply: str | Exception) -> None:
        self.reply, self.calls = reply, []  # type: ignore[var-annotated]

    async def create(self, **body: Any) -> Any:
        self.calls.append(body)
        if isinstance(self.reply, Exception):
            raise self.reply
        message = type("M", (), {"content": self.reply})()
        return type("C", (), {"choices": [type("Ch", (), {"message": message})()]})()


def _client(reply: str | Exception) -> Any:
    completions = _Completions(reply)
    return type("Client", (), {"chat": type("Chat", (), {"completions": completions})()})(), completions


async def test_intent_model_is_asked_only_for_a_long_turn_with_a_control_word_during_a_run() -> None:
    from app.realtime.live.intent_model import IntentClassifier

    client, completions = _client('{"kind": "cancel"}')
    intents = IntentClassifier(client, "gpt-6-luna")
    assert (await intents.classify("What's the weather in Paris?", run_active=True)).kind == "task"
    assert (await intents.classify("Stop that.", run_active=True)).kind == "cancel"  # the rule decides
    long_stop = "Could you please stop what the team is doing right now?"
    assert (await intents.classify(long_stop, run_active=False)).kind == "task"  # no run: nothing to stop
    assert completions.calls == []
    assert (await intents.classify(long_stop, run_active=True)).kind == "cancel"
    assert completions.calls[0]["response_format"]["json_schema"]["strict"] is True
    failing, _ = _client(TimeoutError())
    assert (await IntentClassifier(failing, "m").classify(long_stop, run_active=True)).kind == "task"
    odd, _ = _client('{"kind": "self_destruct"}')
    assert (await IntentClassifier(odd, "m").classify(long_stop, run_active=True)).kind == "task"
