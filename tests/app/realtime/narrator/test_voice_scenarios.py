"""The spoken-question scenario on the Realtime backend under the faults issue 13 names: the socket dropping
exactly when the final answer is being sent, and a server that does not echo response metadata. (A model pause
the person did not ask for and a failed first answer are in tests/app/realtime/narrator/test_narrator.py; the GPT-Live scenarios in
tests/app/realtime/live/test_live_voice.py.) Each runs the real app, /ws/voice, the real openai SDK and the strict fake."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import open_voice, spoken_with_answer, voice_app


def is_final_answer_item(event: object) -> bool:
    return isinstance(event, dict) and "[RUN_FINISHED]" in str(event.get("item", ""))


async def test_realtime_socket_drops_exactly_as_the_answer_is_sent(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        rt = fake_openai.realtime
        rt.drop_before(is_final_answer_item).result(5)
        await rt.aspeak_user("What's the weather in Paris right now?")
        await rt.until(spoken_with_answer, timeout=20, what="the answer spoken on the new connection")
        assert rt.dropped_events and is_final_answer_item(rt.dropped_events[0][1])
        assert rt.sessions == 2
        finals = [c for c in rt.client_events_of("response.create", session=2)]
        assert [c["response"]["metadata"]["purpose"] for c in finals][-1] == "final_answer"
        assert len(voice.team_events("run_finished")) == 1
        fake_openai.assert_clean()
        await voice.close()


@pytest.mark.fake_openai(echo_response_metadata=False)
async def test_server_without_metadata_echo_answers_within_a_second(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.1))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        rt = fake_openai.realtime
        await rt.aspeak_user("What's the weather in Paris right now?")
        finished = await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished", timeout=15)
        finished_at = time.monotonic()
        await rt.until(spoken_with_answer, timeout=15, what="the answer spoken")
        delay = time.monotonic() - finished_at
        assert delay < 1.0, f"the spoken answer came {delay:.1f}s after the run finished"
        assert all(e["response"].get("metadata") is None for e in rt.server_events_of("response.done"))
        assert finished["event"]["data"]["stop_reason"] == "completed"
        fake_openai.assert_clean()
        await voice.close()
