"""/metrics in Prometheus text format and the OpenTelemetry spans of a run (scripted team, live server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agents.models.metering import ModelCall, UsageMeter
from app.core import telemetry
from app.core.metrics import REGISTRY
from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, Script, paris_script, tool_call

QUESTION = "What's the weather in Paris right now?"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(http_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(base_url=http_url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def run_paris(server: Any) -> dict[str, Any]:
    client = await server.connect()
    await client.recv()
    await client.send({"type": "task", "text": QUESTION})
    done: dict[str, Any] = await client.until(lambda e: e["type"] == "run_finished", timeout=20)
    await client.close()
    return done


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer_provider(provider)
    yield exporter
    telemetry.use_tracer_provider(None)


async def test_metrics_count_runs_model_calls_tokens_and_tool_latency(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        before = await scrape(server.http_url)
        done = await run_paris(server)
        after = await scrape(server.http_url)

    def rise(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert rise("research_team_runs_total", outcome="completed") == 1
    assert rise("research_team_model_calls_total", role="manager", outcome="ok") == 2
    assert rise("research_team_model_calls_total", role="researcher", outcome="ok") == 1
    usage = done["data"]["usage"]
    prompt = sum(rise("research_team_tokens_total", role=r, kind="prompt") for r in ("manager", "researcher"))
    assert prompt == usage["prompt_tokens"]
    assert rise("research_team_tool_call_duration_seconds_count", tool="web_search", outcome="ok") == 1
    assert rise("research_team_run_duration_seconds_count") == 1
    assert ("research_team_active_sessions", ()) in after
    assert ("research_team_store_queue_depth", ()) in after


async def test_metrics_need_a_token_when_users_are_configured(tmp_path: Path) -> None:
    token = "metrics-token-" + "m" * 24
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script), app_token=token)) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/metrics")).status_code == 401
            authorized = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert authorized.status_code == 200


async def test_a_run_is_one_trace_with_model_and_tool_calls_as_children(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        done = await run_paris(server)
    finished = spans.get_finished_spans()
    runs = [s for s in finished if s.name == "team.run"]
    assert len(runs) == 1
    run = runs[0]
    assert run.parent is None and run.attributes is not None
    assert run.attributes["run_id"] == done["run_id"] and run.attributes["stop_reason"] == "completed"
    children = [s for s in finished if s.parent is not None and s.parent.span_id == run.context.span_id]
    models = [s for s in children if s.name == "model.call"]
    tools = [s for s in children if s.name == "tool.call"]
    assert len(models) == done["data"]["usage"]["model_calls"] == 3
    assert sorted(str((s.attributes or {})["role"]) for s in models) == ["manager", "manager", "researcher"]
    assert [(s.attributes or {}).get("tool") for s in tools] == ["web_search"]
    assert all(s.context.trace_id == run.context.trace_id for s in children)
    assert all(run.start_time <= s.start_time and s.end_time <= run.end_time for s in children)  # type: ignore[operator]
    # AutoGen's own spans of the run (its runtime's publish / process, its agents and tools) join the run's trace.
    autogen = [s for s in finished if s.name.startswith(("autogen publish", "autogen process", "invoke_agent"))]
    assert autogen and all(s.context.trace_id == run.context.trace_id for s in autogen), {s.name for s in autogen}
    assert any(s.parent is not None and s.parent.span_id == run.context.span_id for s in autogen)
    assert {"invoke_agent Manager", "invoke_agent Researcher", "execute_tool web_search"} <= {s.name for s in finished}


class _Collector(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        _Collector.bodies.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


async def test_spans_go_to_the_otlp_endpoint_when_it_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collector = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    try:
        async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
            await run_paris(server)
        provider = telemetry._provider
        assert provider is not None and provider.force_flush(5_000)  # type: ignore[attr-defined]
    finally:
        telemetry.use_tracer_provider(None)
        collector.shutdown()
    posted = [b for b in _Collector.bodies if b["path"] == "/v1/traces"]
    names = {
        span["name"]
        for b in posted
        for resource in b["body"]["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    }
    assert {"team.run", "model.call", "tool.call"} <= names


async def test_logs_carry_the_run_and_session_ids(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="app.core.telemetry")
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        done = await run_paris(server)
    finished = [r for r in caplog.records if r.getMessage() == "run finished"]
    assert len(finished) == 1
    record = finished[0].__dict__
    assert record["run_id"] == done["run_id"] and record["session_id"] == done["session_id"]
    assert record["stop_reason"] == "completed" and record["model_calls"] == 3


def made_up_tool_script() -> Script:
    """The Researcher's model calls a tool nobody configured (a name it made up), then answers."""
    return Script(
        manager=[
            "TASK: Find the current weather in Paris.\nNEXT AGENT: Researcher",
            f"{PARIS_ANSWER} Source: {PARIS_SOURCE}\nTERMINATE",
            f"{PARIS_ANSWER} Source: {PARIS_SOURCE}\nTERMINATE",  # asked once to fix a source no tool returned
        ],
        researcher=[tool_call("weather_for_user_alice_0042", city="Paris"), "No such tool; Paris is 18°C."],
    )


async def test_a_tool_name_the_model_made_up_counts_as_other_and_adds_no_series(tmp_path: Path) -> None:
    """Label values come from closed sets: one user's run must not add series every scraper sees."""
    async with live_app(scripted_app(tmp_path, ScriptBook(made_up_tool_script))) as server:
        before = await scrape(server.http_url)
        done = await run_paris(server)
        after = await scrape(server.http_url)
    assert done["data"]["stop_reason"] == "completed"
    new = [dict(labels) for name, labels in after if (name, labels) not in before]
    assert new and all(labels.get("tool", "other") == "other" for labels in new), new
    roles = {"manager", "researcher", "developer", "selector", "other"}
    assert all(labels.get("role", "other") in roles for labels in new), new
    key = ("research_team_tool_call_duration_seconds_count", (("outcome", "error"), ("tool", "other")))
    assert after.get(key, 0.0) - before.get(key, 0.0) == 1


def test_a_role_outside_the_team_counts_as_other() -> None:
    """Roles come from the code, not the run, but the label is clamped all the same (closed sets only)."""
    telemetry.on_model_call(ModelCall(UsageMeter(), "role-from-elsewhere", None, 0, 1_000_000))
    found = samples(generate_latest(REGISTRY).decode())
    assert found[("research_team_model_calls_total", (("outcome", "ok"), ("role", "other")))] >= 1
    assert not any("role-from-elsewhere" in str(labels) for _, labels in found)
