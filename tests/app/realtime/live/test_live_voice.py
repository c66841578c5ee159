"""GPT-Live client delegation end to end: the real app and /ws/voice, the real openai SDK
(`client.live.connect()`), the fake GPT-Live server (tests/fakes/live/session.py). The fake validates every
client event with the SDK's `openai.types.live` types plus unknown keys, and delegation ids per connection;
`fake.assert_clean()` fails a test on any rejected event or violation."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import PARIS_ANSWER, paris_script
from tests.support.voice.client import SPOKEN_ANSWER, live_settings, live_spoke_answer, open_voice, voice_app

QUESTION = "What's the weather in Paris right now?"


async def test_spoken_question_answered_over_gpt_live(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.4))  # the run outlasts the acknowledgement window
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        assert voice.of_type("voice.state")[-1]["backend"] == "live"
        live = fake_openai.live
        start = live.starts[0][1]
        assert start["delegation"]["type"] == "client" and start["model"] == "gpt-live-1.1"
        await voice.send(b"\x00\x00" * 480)  # the microphone reaches the Live session
        delegation_id = await live.asay(QUESTION)
        await live.until(live_spoke_answer, timeout=15, what="the answer spoken")
        # The delegation's pending transcript became the team's task; progress went in silently for it.
        assert voice.team_events("run_started")[0]["data"]["task"] == QUESTION
        assert all(d == delegation_id for _, d, _ in live.thinking)
        assert any("[TEAM Researcher]" in text for _, _, text in live.thinking)
        # GPT-Live spoke its own acknowledgement: nothing of ours came inside its acknowledgement window.
        assert [s.delegation_id for s in live.spoken if s.cause == "acknowledgement"] == [delegation_id]
        # The answer went in as commentary for that delegation: a spoken summary, the sources stay on the page.
        (session, answer_for, content), *_ = live.commentary
        assert answer_for == delegation_id and PARIS_ANSWER in content and "https://" not in content
        finished = voice.team_events("run_finished")
        assert finished[0]["data"]["final_answer"].startswith(PARIS_ANSWER)
        assert "Source" in finished[0]["data"]["final_answer"]
        await voice.until(lambda m: m["type"] == "caption" and m.get("final") and SPOKEN_ANSWER in m["text"])
        assert voice.audio_bytes > 0 and live.input_audio_bytes() == 960
        fake_openai.assert_clean()
        await voice.close()


async def test_live_socket_drops_exactly_as_the_answer_is_sent(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await live.asay(QUESTION)
        await live.until(lambda lv: lv.thinking, what="the task acknowledged")
        live.drop_before("session.commentary.append").result(5)
        await live.until(live_spoke_answer, timeout=20, what="the answer spoken in the new session")
        assert live.dropped_events and live.dropped_events[0][1]["type"] == "session.commentary.append"
        assert live.sessions == 2
        session, delegation_id, content = live.commentary[0]
        assert session == 2 and delegation_id is None  # the old delegation id is not valid on the new socket
        restored = live.starts[1][1]["input"][0]["content"][0]["text"]
        assert QUESTION in restored
        assert len(voice.team_events("run_finished")) == 1  # the team ran once: the drop did not touch it
        fake_openai.assert_clean()
        await voice.close()


async def test_stop_that_during_a_run_cancels_it(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=2.0))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await live.asay(QUESTION)
        await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "ToolCallRequestEvent")
        stop_id = await live.asay("Stop that.")
        finished = await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished", timeout=10)
        assert finished["event"]["data"]["stop_reason"] == "cancelled"
        await live.until(lambda lv: any(d == stop_id for _, d, _ in lv.commentary), what="the stop confirmed")
        confirmation = next(text for _, d, text in live.commentary if d == stop_id)
        assert "cancelled" in confirmation
        fake_openai.assert_clean()
        await voice.close()


async def test_expired_live_session_is_renewed_with_context_and_the_answer_arrives(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.6))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await live.asay(QUESTION)
        await live.until(lambda lv: lv.thinking, what="the task acknowledged")
        live.expire_session().result(5)
        await live.until(live_spoke_answer, timeout=20, what="the answer spoken after the renewal")
        assert live.sessions == 2 and QUESTION in live.starts[1][1]["input"][0]["content"][0]["text"]
        assert live.commentary[-1][0] == 2
        fake_openai.assert_clean()
        await voice.close()


async def test_interrupting_speech_never_cancels_team_work(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.5))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await live.asay(QUESTION)
        await live.until(lambda lv: lv.spoken_text("acknowledgement") or lv.thinking, what="ack")
        await live.asay("Oh wait", delegate=False)  # the person talks over the narrator
        await live.until(live_spoke_answer, timeout=15, what="the answer spoken")
        assert voice.team_events("run_finished")[0]["data"]["stop_reason"] == "completed"
        fake_openai.assert_clean()
        await voice.close()


async def test_a_long_stop_request_is_understood_by_the_intent_model(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=2.0))
    fake_openai.chat.add("unknown", '{"kind": "cancel"}')  # the structured-output intent call
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await live.asay(QUESTION)
        await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "ToolCallRequestEvent")
        await live.asay("Could you please stop what the team is doing right now?")
        finished = await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished", timeout=10)
        assert finished["event"]["data"]["stop_reason"] == "cancelled"
        assert fake_openai.chat.count("unknown") == 1
        assert not voice.team_events("followup_queued")  # not mistaken for a follow-up task
        fake_openai.assert_clean()
        await voice.close()


async def test_typed_question_and_page_buttons_over_gpt_live(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.5))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await voice.send({"type": "text", "text": QUESTION})  # no delegation comes for typed text
        # The Manager delegated: the Researcher's (slow) turn is under way when the person presses pause.
        await voice.until(lambda m: m["type"] == "team" and m["event"]["data"].get("source") == "Manager")
        await voice.send({"type": "team.pause"})
        await voice.until(lambda m: m["type"] == "team" and m["event"]["data"].get("state") == "paused", timeout=10)
        await voice.send({"type": "team.resume"})
        await live.until(live_spoke_answer, timeout=15, what="the answer spoken")
        assert live.delegations == []
        notes = [text for _, d, text in live.thinking if d is None]
        assert any(QUESTION in n for n in notes) and any("pressed pause" in n for n in notes)
        assert live.commentary[-1][1] is None  # general commentary: no delegation to answer
        assert voice.team_events("run_finished")[0]["data"]["stop_reason"] == "completed"
        fake_openai.assert_clean()
        await voice.close()


async def test_three_pages_at_once_each_get_their_own_answer_and_every_audio_byte(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """Three voice pages on GPT-Live at once, typed questions: each page's microphone bytes reach its own Live
    session (told apart by how much each page sends) and every byte that session speaks reaches that page."""
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        pages = [await open_voice(server) for _ in range(3)]
        live = fake_openai.live
        for i, page in enumerate(pages):
            for _ in range(i + 1):
                await page.send(b"\x01\x00" * 480)  # page i sends (i + 1) frames of 960 bytes
            await page.send({"type": "text", "text": f"{QUESTION} ({i})"})
        await live.until(lambda lv: len(lv.spoken_text()) >= 3, timeout=20, what="three answers spoken")
        for page in pages:
            await page.until(lambda m: m["type"] == "caption" and m.get("final") and SPOKEN_ANSWER in m["text"])
        by_bytes = {live.input_audio_bytes(s): s for s in (1, 2, 3)}
        assert sorted(by_bytes) == [960, 1920, 2880]
        for i, page in enumerate(pages):
            session = by_bytes[960 * (i + 1)]
            assert page.audio_bytes == live.output_audio_bytes(session) > 0
            assert [t for s, _, t in live.commentary if s == session] and page.team_events("run_finished")
        fake_openai.assert_clean()
        for page in pages:
            await page.close()
