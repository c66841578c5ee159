"""TeamSession with scripted models: runs, follow-ups, pause/resume, cancel, errors, routing."""

from __future__ import annotations

import asyncio

import pytest

from agents.session.team_session import SessionCommandError, SessionState, TeamSession
from agents.team.build import TeamLimits, build_team
from tests.support.scripted import (
    PARIS_ANSWER,
    PARIS_SOURCE,
    Hang,
    Script,
    Slow,
    developer_tools,
    paris_script,
    research_tools,
    tool_call,
)
from tests.support.team_driver import Recorder, finished, scripted_session


async def test_paris_weather_run_events_in_order_and_final_answer() -> None:
    session, rec, raw = scripted_session(paris_script())
    result = await session.submit_task("What is the weather in Paris right now?")
    assert result["status"] == "started"
    done = await rec.wait_for(finished)
    team_events = [(e["type"], e["data"].get("source")) for e in rec.events if e["source"] == "team"]
    assert team_events == [
        ("TextMessage", "user"),
        ("SelectSpeakerEvent", "SelectorGroupChatManager"),
        ("TextMessage", "Manager"),
        ("SelectSpeakerEvent", "SelectorGroupChatManager"),
        ("ToolCallRequestEvent", "Researcher"),
        ("ToolCallExecutionEvent", "Researcher"),
        ("ToolCallSummaryMessage", "Researcher"),  # the search answers: its results are the report (issue 28)
        ("SelectSpeakerEvent", "SelectorGroupChatManager"),
        ("TextMessage", "Manager"),
    ]
    # The tool's payload lives in data.content[], which the recorded client failed to read.
    execution = rec.of_type("ToolCallExecutionEvent")[0]["data"]
    assert execution["content"][0]["name"] == "web_search" and PARIS_SOURCE in execution["content"][0]["content"]
    data = done["data"]
    assert data["stop_reason"] == "completed" and data["complete"] is True
    assert data["final_answer"].startswith(PARIS_ANSWER) and "TERMINATE" not in data["final_answer"]
    assert data["usage"]["model_calls"] == 3  # 2 Manager + 1 Researcher, no selector call, no restating turn
    assert data["usage"]["completion_tokens"] > 0 and data["duration_s"] >= 0
    assert raw["selector"].calls == 0
    assert len(rec.of_type("run_finished")) == 1
    assert session.state == SessionState.IDLE
    assert [e["data"]["state"] for e in rec.of_type("system")] == ["running", "idle"]


async def test_selector_model_called_only_when_manager_names_nobody() -> None:
    script = Script(
        manager=["Someone please find the population of Lyon.", "Lyon has about 520,000 inhabitants.\nTERMINATE"],
        researcher=["Lyon: about 520,000 inhabitants (INSEE 2021)."],
        selector=["Researcher"],
    )
    session, rec, raw = scripted_session(script)
    await session.submit_task("Population of Lyon?")
    done = await rec.wait_for(finished)
    assert done["data"]["stop_reason"] == "completed"
    assert raw["selector"].calls == 1  # the one open choice
    assert session.meter.calls("selector") == 1


async def test_task_containing_terminate_runs_normally() -> None:
    session, rec, raw = scripted_session(paris_script())
    await session.submit_task("TERMINATE. Ignore that word: what is the weather in Paris? TERMINATE")
    done = await rec.wait_for(finished)
    assert done["data"]["stop_reason"] == "completed"
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
    assert raw["manager"].calls == 2 and raw["researcher"].calls == 1


async def test_worker_saying_terminate_does_not_end_the_run() -> None:
    script = paris_script()
    script.researcher = ["Paris is 18°C and partly cloudy.\nTERMINATE"]  # a worker's report that says it
    session, rec, raw = scripted_session(script)
    await session.submit_task("Weather in Paris?")
    done = await rec.wait_for(finished)
    assert raw["manager"].calls == 2  # the Manager still had the last word
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)


async def test_pause_mid_run_then_resume_completes_with_same_answer() -> None:
    session, rec, raw = scripted_session(paris_script(researcher_delay=0.3))
    await session.submit_task("Weather in Paris?")
    await rec.wait_for(lambda e: e["type"] == "TextMessage" and e["data"]["source"] == "Manager")
    assert (await session.pause())["status"] == "pausing"
    await rec.wait_for(lambda e: e["type"] == "system" and e["data"]["state"] == "paused")
    assert session.state == SessionState.PAUSED
    assert not rec.of_type("run_finished")
    count_at_pause = len(rec.events)
    await asyncio.sleep(0.2)
    assert len(rec.events) == count_at_pause  # nothing happens while paused
    with pytest.raises(SessionCommandError) as again:
        await session.pause()
    assert again.value.code == "already_paused"
    await session.resume()
    done = await rec.wait_for(finished)
    assert done["data"]["stop_reason"] == "completed"
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
    run_ids = {e["run_id"] for e in rec.events if e["run_id"]}
    assert len(run_ids) == 1  # one run across the pause
    assert raw["manager"].calls == 2 and raw["researcher"].calls == 1


async def test_resume_without_pause_is_refused() -> None:
    session, _, _ = scripted_session(paris_script())
    with pytest.raises(SessionCommandError) as refused:
        await session.resume()
    assert refused.value.code == "not_paused"


async def test_cancel_during_model_call_then_next_task_works() -> None:
    script = paris_script()
    script.manager = [Hang(), *script.manager]
    session, rec, raw = scripted_session(script)
    await session.submit_task("Something slow")
    await asyncio.sleep(0.2)
    assert raw["manager"].hanging == 1
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(session.cancel(), 3)
    assert asyncio.get_running_loop().time() - started < 0.3
    cancelled = rec.of_type("run_finished")[-1]
    assert cancelled["data"]["stop_reason"] == "cancelled"
    assert session.state == SessionState.IDLE
    # The hung call counted as one script item; the next run gets the Paris script.
    raw["manager"]._current_index = 1
    await session.submit_task("Weather in Paris?")
    done = await rec.wait_for(lambda e: finished(e) and e["data"]["stop_reason"] == "completed")
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)


async def test_cancel_during_tool_call_then_next_task_works() -> None:
    script = paris_script()
    script.researcher = [tool_call("slow_lookup", query="weather"), *script.researcher]
    script.manager = ["Look it up slowly.\nNEXT AGENT: Researcher", *script.manager]
    session, rec, raw = scripted_session(script)
    await session.submit_task("Slow lookup please")
    await rec.wait_for(lambda e: e["type"] == "ToolCallRequestEvent")
    await asyncio.sleep(0.1)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(session.cancel(), 3)
    assert asyncio.get_running_loop().time() - started < 0.3  # announced at once, cleaned up later
    assert rec.of_type("run_finished")[-1]["data"]["stop_reason"] == "cancelled"
    await session.submit_task("Weather in Paris?")
    done = await rec.wait_for(lambda e: finished(e) and e["data"]["stop_reason"] == "completed", timeout=5)
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
    # The cancelled run's task (stuck in AutoGen's tool-call deadlock) is unwound, not left behind.
    for _ in range(50):
        if session.lingering_tasks == 0:
            break
        await asyncio.sleep(0.1)
    assert session.lingering_tasks == 0
    assert [e["data"]["stop_reason"] for e in rec.of_type("run_finished")] == ["cancelled", "completed"]


async def test_cancel_while_paused_and_without_run() -> None:
    session, rec, _ = scripted_session(paris_script(researcher_delay=0.2))
    with pytest.raises(SessionCommandError) as nothing:
        await session.cancel()
    assert nothing.value.code == "no_active_run"
    await session.submit_task("Weather in Paris?")
    await rec.wait_for(lambda e: e["type"] == "TextMessage" and e["data"]["source"] == "Manager")
    await session.pause()
    await rec.wait_for(lambda e: e["type"] == "system" and e["data"]["state"] == "paused")
    await session.cancel()
    assert rec.of_type("run_finished")[-1]["data"]["stop_reason"] == "cancelled"
    assert session.state == SessionState.IDLE


async def test_task_during_run_is_a_followup_not_a_second_run() -> None:
    script = paris_script(researcher_delay=0.2)
    script.manager = [*script.manager, "Tomorrow in Paris: 20°C and sunny.\nTERMINATE"]
    session, rec, raw = scripted_session(script)
    await session.submit_task("Weather in Paris?")
    queued = await session.submit_task("And tomorrow?")
    assert queued["status"] == "queued" and queued["position"] == 1
    first = await rec.wait_for(finished)
    second = await rec.wait_for(lambda e: finished(e) and e["run_id"] != first["run_id"])
    assert first["data"]["final_answer"].startswith(PARIS_ANSWER)
    assert second["data"]["final_answer"].startswith("Tomorrow in Paris")
    starts = rec.of_type("run_started")
    assert [s["data"]["followup"] for s in starts] == [False, True]
    # Never two runs at once: the second starts after the first finished.
    index = {id(e): i for i, e in enumerate(rec.events)}
    assert index[id(starts[1])] > index[id(first)]
    # The follow-up run sees the earlier conversation (same team memory).
    last_manager_call = raw["manager"].create_calls[-1]["messages"]
    assert any("18°C" in str(getattr(m, "content", "")) for m in last_manager_call)


async def test_model_error_ends_the_run_not_the_session() -> None:
    script = paris_script()
    script.manager = []  # the first model call fails: no scripted answer
    session, rec, raw = scripted_session(script)
    await session.submit_task("Weather in Paris?")
    done = await rec.wait_for(finished)
    assert done["data"]["stop_reason"] == "error"
    error = rec.of_type("error")[-1]["data"]
    assert error["code"] == "agent_error" and "mock" in error["message"].lower()
    raw["manager"].chat_completions.extend(paris_script().manager)  # type: ignore[arg-type]  # Slow, Hang too
    await session.submit_task("Weather in Paris?")
    ok = await rec.wait_for(lambda e: finished(e) and e["data"]["stop_reason"] == "completed")
    assert ok["data"]["final_answer"].startswith(PARIS_ANSWER)


async def test_message_cap_ends_with_best_answer_marked_incomplete() -> None:
    script = paris_script()
    session, rec, _ = scripted_session(script, limits=TeamLimits(max_messages=3))
    await session.submit_task("Weather in Paris?")
    done = await rec.wait_for(finished)
    assert done["data"]["stop_reason"] == "max_messages"
    assert done["data"]["complete"] is False


async def test_reset_forgets_memory() -> None:
    script = paris_script()
    script.manager = [*script.manager, *paris_script().manager]
    script.researcher = [*script.researcher, *paris_script().researcher]
    session, rec, raw = scripted_session(script)
    await session.submit_task("Weather in Paris?")
    await rec.wait_for(finished)
    await session.reset()
    await session.submit_task("Weather in Paris again?")
    await rec.wait_for(lambda e: finished(e) and len(rec.of_type("run_finished")) == 2)
    first_call_after_reset = raw["manager"].create_calls[2]["messages"]
    assert not any("18°C" in str(getattr(m, "content", "")) for m in first_call_after_reset)


async def test_unavailable_session_refuses_tasks_with_what_to_set() -> None:
    session = TeamSession(
        "s_nokey_1",
        factory=lambda: (_ for _ in ()).throw(AssertionError("no team")),
        meter=paris_script().clients()[0].meter,
        emit=Recorder(),
        unavailable="Set OPENAI_API_KEY in .env",
    )
    with pytest.raises(SessionCommandError) as refused:
        await session.submit_task("hello")
    assert refused.value.code == "no_model_access" and "OPENAI_API_KEY" in refused.value.message
    assert (await session.reset())["status"] == "reset"


async def test_slow_model_pause_during_model_call_waits_for_turn() -> None:
    script = paris_script()
    script.manager = [Slow(0.3, script.manager[0]), script.manager[1]]
    session, rec, _ = scripted_session(script)
    await session.submit_task("Weather in Paris?")
    await asyncio.sleep(0.05)
    await session.pause()  # the Manager is mid-call: its turn finishes, then the run pauses
    await rec.wait_for(lambda e: e["type"] == "system" and e["data"]["state"] == "paused")
    assert [e["data"]["source"] for e in rec.of_type("TextMessage")] == ["user", "Manager"]
    await session.resume()
    done = await rec.wait_for(finished)
    assert done["data"]["stop_reason"] == "completed"


@pytest.mark.parametrize(
    "error, code",
    [
        (RuntimeError("RateLimitError: Error code: 429 - slow down"), "model_rate_limited"),
        (RuntimeError("AuthenticationError: Error code: 401 - Incorrect API key provided"), "model_auth_failed"),
        (RuntimeError("APITimeoutError: Request timed out."), "model_timeout"),
        (RuntimeError("InternalServerError: Error code: 500 - upstream exploded"), "model_error"),
        (RuntimeError("APIConnectionError: Connection error."), "model_error"),
        (ValueError("No more mock responses available"), "agent_error"),
    ],
)
def test_errors_are_classified_for_the_client(error: Exception, code: str) -> None:
    from agents.session.team_session import describe_error

    assert describe_error(error)[0] == code


async def test_shared_run_slots_make_a_run_wait_its_turn() -> None:
    """A worker's cap on runs at work at once (WORKER_MAX_ACTIVE_RUNS): with one slot the second session's run
    is started (told at once) but works only once the first has finished; both answer."""
    slots = asyncio.Semaphore(1)
    sessions = []
    for _ in range(2):
        clients, _raw = paris_script(manager_delay=0.2).clients()
        recorder = Recorder()
        session = TeamSession(
            "s_test_slots",
            factory=lambda clients=clients: build_team(  # type: ignore[misc]
                clients, researcher_tools=research_tools(), developer_tools=developer_tools("s")
            ),
            meter=clients.meter,
            emit=recorder,
            run_slots=slots,
        )
        sessions.append((session, recorder))
    for session, _ in sessions:
        assert (await session.submit_task("What is the weather in Paris right now?"))["status"] == "started"
    (first, first_events), (second, second_events) = sessions
    await first_events.wait_for(finished, timeout=10)
    assert not [e for e in second_events.events if e["source"] == "team"], "the second run worked without a slot"
    await second_events.wait_for(finished, timeout=10)
    assert PARIS_ANSWER in second_events.of_type("run_finished")[0]["data"]["final_answer"]
    for session, _ in sessions:
        await session.close()
