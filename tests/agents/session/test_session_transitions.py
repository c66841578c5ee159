"""TeamSession's single owner of state: every acknowledged pause takes effect, follow-ups are never overtaken.

Each case drives the real session and team with scripted models; the points in a run where a command lands
are reached by waiting for the event that marks them, not by sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from autogen_core.tools import FunctionTool

from agents.session.team_session import SessionLimits, SessionState, TeamSession
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, Script, Slow, paris_script, tool_call
from tests.support.team_driver import Recorder, finished, scripted_session

REPEATS = 20


async def slow_search(query: str, max_results: int = 5) -> str:
    """Search the web (scripted, takes a moment so a command can land during the tool call)."""
    await asyncio.sleep(0.05)
    return f"1. Paris weather now: 18°C, partly cloudy\n   URL: {PARIS_SOURCE}"


def session_for(script: Script) -> tuple[TeamSession, Recorder]:
    tools = [FunctionTool(slow_search, name="web_search", description="Search the web.")]
    session, recorder, _ = scripted_session(
        script, session_id="s_transitions", researcher_tools=tools, session_limits=SessionLimits()
    )
    return session, recorder


def slow_paris() -> Script:
    script = paris_script(manager_delay=0.05)
    script.researcher = [tool_call("web_search", query="weather in Paris")]
    return script


async def right_after_start(rec: Recorder) -> None:
    return None


async def during_model_call(rec: Recorder) -> None:
    await rec.wait_for(lambda e: e["type"] == "SelectSpeakerEvent")  # the Manager's model call is under way


async def during_tool_call(rec: Recorder) -> None:
    await rec.wait_for(lambda e: e["type"] == "ToolCallRequestEvent")


async def between_turns(rec: Recorder) -> None:
    await rec.wait_for(lambda e: e["type"] == "TextMessage" and e["data"].get("source") == "Manager")


POINTS: dict[str, Callable[[Recorder], Any]] = {
    "right_after_run_started": right_after_start,
    "during_a_model_call": during_model_call,
    "during_a_tool_call": during_tool_call,
    "between_turns": between_turns,
}


@pytest.mark.parametrize("point", list(POINTS))
async def test_every_acknowledged_pause_takes_effect_and_resume_finishes(point: str) -> None:
    outcomes: dict[str, int] = {"paused": 0}
    for _ in range(REPEATS):
        session, rec = session_for(slow_paris())
        await session.submit_task("What is the weather in Paris?")
        await POINTS[point](rec)
        ack = await session.pause()
        assert ack["status"] == "pausing"
        await rec.wait_for(lambda e: e["type"] == "system" and e["data"].get("state") in ("paused", "idle"))
        assert session.state == SessionState.PAUSED, f"acknowledged pause lost at {point}: {rec.events[-3:]}"
        assert not rec.of_type("run_finished")
        outcomes["paused"] += 1
        await session.resume()
        done = await rec.wait_for(finished, timeout=10)
        assert done["data"]["stop_reason"] == "completed"
        assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
        await session.close()
    assert outcomes["paused"] == REPEATS


async def test_queued_followup_is_never_overtaken_even_when_save_state_yields() -> None:
    script = Script(
        manager=[
            Slow(0.05, "First answer: one.\nTERMINATE"),
            "Follow-up answer: two.\nTERMINATE",
            "Newest answer: three.\nTERMINATE",
        ]
    )
    session, rec = session_for(script)
    saving = asyncio.Event()
    newer_sent = asyncio.Event()
    original_ensure = session._memory.ensure

    def ensure_with_slow_save() -> Any:
        team, controls = original_ensure()
        if not getattr(team, "_slow_save", False):
            real_save = team.save_state

            async def slow_save() -> Any:
                saving.set()
                await newer_sent.wait()  # the newest task arrives while the state is being saved
                await asyncio.sleep(0.05)
                return await real_save()

            team.save_state = slow_save  # type: ignore[method-assign]
            team._slow_save = True  # type: ignore[attr-defined]
        return team, controls

    session._memory.ensure = ensure_with_slow_save  # type: ignore[method-assign]
    await session.submit_task("one")
    queued = await session.submit_task("two")
    assert queued["status"] == "queued"
    await asyncio.wait_for(saving.wait(), 5)
    newest = asyncio.create_task(session.submit_task("three"))
    await asyncio.sleep(0)
    newer_sent.set()
    assert (await newest)["status"] == "queued"  # behind "two", never ahead of it
    await rec.wait_for(lambda e: len(rec.of_type("run_finished")) == 3, timeout=10)
    started = [e["data"]["task"] for e in rec.of_type("run_started")]
    assert started == ["one", "two", "three"]
    answers = [e["data"]["final_answer"] for e in rec.of_type("run_finished")]
    assert answers == ["First answer: one.", "Follow-up answer: two.", "Newest answer: three."]
    await session.close()


async def test_state_is_saved_before_the_run_is_released() -> None:
    session, rec = session_for(paris_script())
    states_during_save: list[str | None] = []
    original_ensure = session._memory.ensure

    def ensure() -> Any:
        team, controls = original_ensure()
        real_save = team.save_state

        async def observed_save() -> Any:
            states_during_save.append(session.run_id)
            return await real_save()

        team.save_state = observed_save  # type: ignore[method-assign]
        return team, controls

    session._memory.ensure = ensure  # type: ignore[method-assign]
    await session.submit_task("Weather in Paris?")
    done = await rec.wait_for(finished)
    assert states_during_save and set(states_during_save) == {done["run_id"]}  # still held while saved
    assert session.run_id is None and session.state == SessionState.IDLE
    await session.close()
