"""A span per voice turn (issue 16): `voice.turn` children of one `voice.session` span per voice session, on
both backends, over /ws/voice against the strict fake, captured with the in-memory exporter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core import telemetry
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import (
    live_settings,
    live_spoke_answer,
    open_voice,
    realtime_settings,
    spoken_with_answer,
    voice_app,
)

QUESTION = "What's the weather in Paris right now?"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer_provider(provider)
    yield exporter
    telemetry.use_tracer_provider(None)


async def session_spans(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The voice.session span (ended when the narrator closed after the page) and its voice.turn children."""
    for _ in range(100):
        sessions = [s for s in exporter.get_finished_spans() if s.name == "voice.session"]
        if sessions:
            break
        await asyncio.sleep(0.05)
    (session,) = sessions
    turns = [s for s in exporter.get_finished_spans() if s.name == "voice.turn"]
    return session, turns


def number(span: ReadableSpan, key: str) -> float:
    value = (span.attributes or {}).get(key)
    assert isinstance(value, int | float), f"{span.name}.{key} = {value!r}"
    return float(value)


def check_shape(session: ReadableSpan, turns: list[ReadableSpan], backend: str) -> None:
    assert session.parent is None  # a trace of its own, not the socket's request span
    assert session.attributes is not None and session.attributes["backend"] == backend
    assert session.attributes["turns"] == len(turns) >= 1
    for turn in turns:
        assert turn.parent is not None and turn.parent.span_id == session.context.span_id
        assert turn.context.trace_id == session.context.trace_id
        attributes = turn.attributes or {}
        assert attributes["backend"] == backend and attributes["session_id"] == session.attributes["session_id"]
        assert turn.start_time is not None and turn.end_time is not None
        assert attributes["turn.duration_s"] == pytest.approx((turn.end_time - turn.start_time) / 1e9)
        assert session.start_time is not None and session.start_time <= turn.start_time


async def test_realtime_turns_are_spans_with_tokens_and_cost(
    tmp_path: Path, fake_openai: Any, spans: InMemorySpanExporter
) -> None:
    voice_settings = realtime_settings()
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=voice_settings)) as server:
        voice = await open_voice(server)
        rt = fake_openai.realtime
        await rt.aspeak_user(QUESTION)
        await rt.until(spoken_with_answer, timeout=15, what="the answer spoken")
        rt.narrator.queue_say("You are welcome.")  # the next turn is answered by the narrator itself
        await voice.send({"type": "text", "text": "Thanks, that is all."})
        await rt.until(lambda rt: any("welcome" in s for s in rt.spoken()), timeout=10, what="the reply")
        for _ in range(100):  # the reply's response.done reaches the narrator: the typed turn's span ends
            if len([s for s in spans.get_finished_spans() if s.name == "voice.turn"]) == 2:
                break
            await asyncio.sleep(0.05)
        await voice.close()
        session, turns = await session_spans(spans)
    check_shape(session, turns, "realtime")
    spoken, typed = turns
    done = {e["response"]["id"]: e["response"] for e in rt.server_events_of("response.done")}
    # The spoken question: its first response called ask_team, and the span carries that response's tokens.
    assert spoken.attributes is not None and spoken.attributes["outcome"] == "handed_to_team"
    first = next(r for r in done.values() if any(i.get("name") == "ask_team" for i in r["output"]))
    assert spoken.attributes["input_tokens"] == first["usage"]["input_tokens"]
    assert spoken.attributes["output_tokens"] == first["usage"]["output_tokens"]
    assert number(spoken, "cost_usd") > 0
    assert typed.attributes is not None and typed.attributes["outcome"] == "answered"
    assert number(typed, "latency_s") >= 0
    # The turn's cost never exceeds the session's.
    assert sum(number(t, "cost_usd") for t in turns) <= number(session, "cost_usd")


async def test_gpt_live_turn_ends_at_the_delegation(
    tmp_path: Path, fake_openai: Any, spans: InMemorySpanExporter
) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.4))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        voice = await open_voice(server)
        live = fake_openai.live
        await live.asay(QUESTION)
        await live.until(live_spoke_answer, timeout=15, what="the answer spoken")
        await live.asay("Oh wait", delegate=False)  # the person speaks; the narrator answers nothing yet
        await voice.close()
        session, turns = await session_spans(spans)
    check_shape(session, turns, "live")
    (turn,) = turns  # the unanswered "Oh wait" is no turn: no span is left open for it
    assert turn.attributes is not None and turn.attributes["outcome"] == "handed_to_team"
    assert turn.attributes["input_tokens"] == 0  # GPT-Live reports no tokens
    assert "cost_usd" in turn.attributes and session.attributes is not None
    assert number(session, "billed_minutes") > 0
