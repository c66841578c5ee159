"""Current models, and a lifecycle that never strands a user: against a fake that serves models the way
OpenAI does today (a shut-down model answers 404 model_not_found; GET /v1/models carries shutdown dates;
reasoning models refuse what the real API refuses)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.core.settings import Settings
from app.core.voice_settings import VoiceSettings
from app.sessions.model_lifecycle import ConfiguredModel, check_models, configured_models
from tests.fakes.chat import tool_call
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import live_app, make_settings, openai_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE

TODAY = dt.date(2026, 12, 7)  # the day the defaults were chosen; the fake's calendar is pinned to it here


def _script_paris(fake: FakeOpenAI, *, selector_answers: bool) -> None:
    """A Manager whose opening move thinks aloud (decides nothing, as real models often do). A working selector
    then picks the Researcher; a failed one hands the turn back to the Manager, who must now decide."""
    thinking = "Let me think about how to find the current weather in Paris."
    delegate = tool_call("delegate", {"agent": "Researcher", "instructions": "Find the weather in Paris now."})
    finish = tool_call("finish", {"answer": PARIS_ANSWER, "sources": [PARIS_SOURCE]})
    fake.chat.add("manager", *((thinking, finish) if selector_answers else (thinking, delegate, finish)))
    if selector_answers:
        fake.chat.add("selector", "Researcher")
    fake.chat.add("researcher", tool_call("web_search", {"query": "current weather in Paris"}))
    # Its report in words, if it writes one (results that answer the instruction reach the Manager as they are).
    fake.chat.fallback("researcher", f"Paris now: 18°C, partly cloudy ({PARIS_SOURCE}).")


def _sdk_deprecated_names(module_file: str) -> set[str]:
    """Model names the installed openai SDK lists under "Deprecated values" (each with its shutdown date)."""
    text = Path(module_file).read_text(encoding="utf-8")
    tail = text.split("Deprecated values", 1)[1] if "Deprecated values" in text else ""
    return set(re.findall(r'"([a-z0-9][a-z0-9.\-]+)"', tail)) | set(re.findall(r"- ([a-z0-9][a-z0-9.\- ]+):", tail))


def test_defaults_are_models_with_no_announced_shutdown() -> None:
    """Both sources agree: the fake's catalog (OpenAI's deprecations page) and the SDK's own model literals."""
    import openai.types.realtime.audio_transcription_param as transcription
    import openai.types.realtime.realtime_session_create_request_param as realtime
    import openai.types.shared.chat_model as chat

    settings, voice = Settings(_env_file=None), VoiceSettings(_env_file=None)
    deprecated = set()
    for module in (chat, realtime, transcription):
        assert module.__file__ is not None
        for group in _sdk_deprecated_names(module.__file__):
            deprecated |= set(group.split())
    assert {"gpt-4.1-nano", "gpt-4.1-mini", "gpt-realtime", "gpt-4o-mini-transcribe"} <= deprecated  # it reads them
    fake = FakeOpenAI()
    fake.models.today = TODAY
    for used in configured_models(settings, voice.model_copy(update={"voice_api": "live"})):
        assert used.model not in deprecated, used
        served = fake.models.get(used.model)
        assert served is not None and served.shutdown_date is None, used


async def test_defaults_answer_when_the_opening_move_decides_nothing(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    _script_paris(fake_openai, selector_answers=True)
    async with live_app(openai_app(tmp_path, fake_openai)) as server:
        assert server.services.model_watch.latest.listing == "ok"
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until_type("run_finished", timeout=20)
        assert done["data"]["stop_reason"] == "completed" and done["data"]["final_answer"] == PARIS_ANSWER
        await client.close()
    selector = fake_openai.chat.calls("selector")
    assert len(selector) == 1 and selector[0].model == "gpt-6-luna"
    for request in fake_openai.chat.requests:  # what GPT-6 Luna needs on Chat Completions to call tools
        assert request.body.get("reasoning_effort") == "none", request.body
        assert "max_tokens" not in request.body
    fake_openai.assert_clean()


async def test_a_shut_down_selector_model_never_fails_a_run(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        _script_paris(fake_openai, selector_answers=False)
    with caplog.at_level(logging.WARNING):
        async with live_app(openai_app(tmp_path, fake_openai, selector_model="gpt-4.1-nano")) as server:
            health = (await _get(server.http_url, "/health")).json()
            assert health["status"] == "degraded" and "SELECTOR_MODEL" in " ".join(health["models"]["problems"])
            client = await server.connect()
            await client.recv()
            for _ in range(2):
                await client.send({"type": "task", "text": "What's the weather in Paris?"})
                done = await client.until_type("run_finished", timeout=20)
                assert done["data"]["stop_reason"] == "completed", done
                assert done["data"]["final_answer"] == PARIS_ANSWER
            await client.close()
    fallbacks = [r for r in caplog.records if "selector model failed" in r.getMessage()]
    assert len(fallbacks) == 1 and "SELECTOR_MODEL" in fallbacks[0].getMessage()
    assert [b["model"] for b, _ in fake_openai.chat.refused] == ["gpt-4.1-nano", "gpt-4.1-nano"]


async def test_a_shut_down_manager_model_is_named_at_startup_in_health_and_on_the_first_task(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with live_app(openai_app(tmp_path, fake_openai, manager_model="gpt-4.1-nano")) as server:
            startup = [r.getMessage() for r in caplog.records if "model check" in r.getMessage()]
            assert any("MANAGER_MODEL=gpt-4.1-nano" in m and "set MANAGER_MODEL" in m for m in startup), startup
            health = (await _get(server.http_url, "/health")).json()
            assert health["status"] == "degraded"
            assert any(p.startswith("MANAGER_MODEL=gpt-4.1-nano") for p in health["models"]["problems"])
            client = await server.connect()
            await client.recv()
            await client.send({"type": "task", "text": "What's the weather in Paris?"})
            error = await client.until_type("error", timeout=20)
            assert error["data"]["code"] == "model_not_found"
            assert "gpt-4.1-nano" in error["data"]["message"] and "MANAGER_MODEL" in error["data"]["message"]
            done = await client.until_type("run_finished", timeout=20)
            assert done["data"]["error_code"] == "model_not_found"
            await client.close()


async def test_a_model_near_its_shutdown_is_warned_with_its_date_and_counted_in_metrics(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.models.today = TODAY
    monkeypatch.setattr("app.sessions.model_lifecycle.current_date", lambda: TODAY)
    with caplog.at_level(logging.WARNING):
        # gpt-realtime shuts down on 2027-01-20: 44 days after TODAY.
        async with live_app(openai_app(tmp_path, fake_openai, realtime_model="gpt-realtime")) as server:
            check = server.services.model_watch.latest
            health = (await _get(server.http_url, "/health")).json()
            metrics = (await _get(server.http_url, "/metrics")).text
    states = {s.configured.setting: s for s in check.states}
    assert states["REALTIME_MODEL"].status == "retiring"
    assert str(states["REALTIME_MODEL"].shutdown_date) == "2027-01-20"
    assert health["status"] == "ok"  # retiring is a warning, not an outage
    assert states["REALTIME_MODEL"].days_left == 44
    assert any(p.startswith("REALTIME_MODEL=gpt-realtime") and "2027-01-20" in p for p in health["models"]["problems"])
    assert 'research_team_model_days_left{model="gpt-realtime",setting="REALTIME_MODEL"} 44.0' in metrics
    assert any(
        "REALTIME_MODEL=gpt-realtime" in r.getMessage() and "2027-01-20" in r.getMessage() for r in caplog.records
    )


@pytest.mark.fake_openai(list_models=False)
async def test_a_base_url_without_a_model_list_is_said_once_and_not_an_outage(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with live_app(openai_app(tmp_path, fake_openai)) as server:
        check = server.services.model_watch.latest
        assert check.listing == "unsupported" and not check.degraded
        assert {s.status for s in check.states} == {"unchecked"}
        health = (await _get(server.http_url, "/health")).json()
        assert health["status"] == "ok" and health["models"]["listing"] == "unsupported"


@pytest.mark.fake_openai(api_key="sk-test")
async def test_check_models_judges_each_setting_against_the_list(fake_openai: FakeOpenAI) -> None:
    fake_openai.models.today = TODAY
    models = [
        ConfiguredModel("MANAGER_MODEL", "gpt-6-luna", "the Manager"),
        ConfiguredModel("SELECTOR_MODEL", "gpt-4.1-nano", "the selector"),
        ConfiguredModel("RESEARCHER_MODEL", "gpt-4.1-mini", "the Researcher"),
        ConfiguredModel("DEVELOPER_MODEL", "gpt-4o-2024-08-06", "the Developer"),  # not listed, not served
    ]
    check = await check_models(fake_openai.async_client(), models, today=TODAY)
    states = {s.configured.setting: s for s in check.states}
    assert states["MANAGER_MODEL"].status == "ok"
    assert states["SELECTOR_MODEL"].status == "missing"
    assert states["RESEARCHER_MODEL"].status == "retiring" and states["RESEARCHER_MODEL"].days_left == 38
    assert states["DEVELOPER_MODEL"].status == "missing"
    assert check.degraded
    refused = await check_models(fake_openai.async_client(api_key="sk-wrong"), models[:1], today=TODAY)
    assert refused.listing == "refused" and "OPENAI_API_KEY" in refused.detail and not refused.degraded


# ---- the fake is as strict as the service ------------------------------------------------------------------


def test_fake_refuses_what_reasoning_models_refuse(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.sync_client(max_retries=0)
    tools = [{"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}]
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as gone:
        client.chat.completions.create(model="gpt-4.1-nano", messages=messages)
    assert gone.value.code == "model_not_found"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"model": "gpt-6-luna", "tools": tools}, "reasoning_effort"),  # default effort is medium
        ({"model": "gpt-6-luna", "tools": tools, "reasoning_effort": "low"}, "reasoning_effort"),
        ({"model": "gpt-6.1-sol", "tools": tools, "reasoning_effort": "low"}, "tools"),
        ({"model": "gpt-6.1-sol", "reasoning_effort": "none"}, "reasoning_effort"),
        ({"model": "gpt-6-luna", "max_tokens": 10, "reasoning_effort": "none"}, "max_tokens"),
        ({"model": "gpt-6-luna", "temperature": 0.2}, "temperature"),
        ({"model": "gpt-4.1-mini", "reasoning_effort": "none"}, "reasoning_effort"),
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(messages=messages, **extra)
        assert refused.value.param == param, (extra, refused.value)
    fake_openai.chat.add("unknown", "pong")
    ok = client.chat.completions.create(
        model="gpt-6-luna",
        messages=messages,
        tools=tools,
        reasoning_effort="none",
        temperature=0.2,
    )
    assert ok.choices[0].message.content == "pong"


def test_fake_lists_models_with_shutdown_dates_through_the_sdk(fake_openai: FakeOpenAI) -> None:
    fake_openai.models.today = TODAY
    client = fake_openai.sync_client()
    listed = {m.id: m.shutdown_date for m in client.models.list()}
    assert listed["gpt-6-luna"] is None and listed["gpt-4.1-mini"] == "2027-01-14"
    assert "gpt-4.1-nano" not in listed
    assert client.models.retrieve("gpt-realtime").shutdown_date == "2027-01-20"
    fake_openai.models.today = dt.date(2027, 1, 14)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4.1-mini")


def test_settings_refuse_an_unknown_reasoning_effort(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_settings(tmp_path, manager_reasoning_effort="extreme")


async def _get(base: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.get(path)
