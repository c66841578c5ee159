"""Traces (OpenTelemetry) and metrics (app/core/metrics.py) of runs, model calls and tool calls.

Two hooks feed it, so neither the session nor AutoGen changes: `observe_session` wraps a session's event sink
(run_started / run_finished / tool call events, seen once stored) and `on_model_call` observes every metered
model call (agents/models/metering.py). Span shape, one trace per run:

    team.run (run_id, session_id, stop_reason, usage, cost)
      ├── model.call (role, tokens)      one per model call of the run
      └── tool.call (tool, is_error)     from the call's request to its result

Metrics labels come from closed sets only (DESIGN.md, "Users, ownership, limits"): a tool the session was not
built with (a name the model made up), a role or a stop reason outside the known ones counts as `other`, so
no run can add series that every scraper sees. Spans keep the real names: a trace belongs to one run.

Spans go to the tracer provider set with `use_tracer_provider` (tests: an in-memory exporter) or, when
OTEL_EXPORTER_OTLP_ENDPOINT is set, to that collector (OTLP/HTTP).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, TracerProvider

from agents.events import RunFinished, RunStarted, SessionPayload, TeamMessage
from agents.models.clients import ROLES
from agents.models.metering import ModelCall, UsageMeter, observe_model_calls
from agents.session.checkpoint import Checkpoint
from agents.session.event_sink import EventSink
from agents.stop import StopReason
from app.core import metrics

log = logging.getLogger(__name__)


MAX_PENDING_TOOL_CALLS = 64  # per session: requests waiting for their result (older ones are dropped)
OTHER = "other"  # the label value of anything outside a label's closed set
ROLE_LABELS = frozenset(ROLES)
OUTCOME_LABELS = frozenset(str(reason) for reason in StopReason)
_provider: TracerProvider | None = None


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Where spans go (None: OpenTelemetry's global provider, a no-op unless configured)."""
    global _provider
    _provider = provider


def closed(value: str, allowed: Collection[str]) -> str:
    """`value` as a metrics label: itself when `allowed` holds it, else OTHER."""
    return value if value in allowed else OTHER


def tracer() -> trace.Tracer:
    return trace.get_tracer("research_team", tracer_provider=_provider)


def configure_otlp() -> bool:
    """Send spans to OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP, JSON encoding) when it is set. The JSON exporter,
    because the protobuf one needs protobuf 7 and autogen-core 0.7.5 pins protobuf 5.29."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = SdkTracerProvider(resource=Resource.create({"service.name": "research-team"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use_tracer_provider(provider)
    return True


class _CurrentTracer(trace.Tracer):
    """A tracer that asks, at each span, for the provider in use now (use_tracer_provider). AutoGen's runtime
    takes its tracer once, from OpenTelemetry's global provider, when a team is built: through this one its
    spans follow ours, and join the run's trace (the driver task runs inside the run's span, see
    SessionObserver.run_context)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _tracer(self) -> trace.Tracer:
        return trace.get_tracer(self._name, tracer_provider=_provider)

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        if _provider is None:
            return trace.INVALID_SPAN
        return self._tracer().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        if _provider is None:  # no tracing configured: AutoGen traces every message, so this path must be free
            return contextlib.nullcontext(trace.INVALID_SPAN)
        return self._tracer().start_as_current_span(*args, **kwargs)


class _CurrentProvider(trace.TracerProvider):
    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _CurrentTracer(instrumenting_module_name)


def install_global_provider() -> bool:
    """Make OpenTelemetry's global provider follow ours, unless the operator already set one (then theirs
    stays, and AutoGen's spans go to it)."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return False
    trace.set_tracer_provider(_CurrentProvider())
    return True


@dataclass
class _SessionTrace:
    session_id: str
    tools: frozenset[str] = frozenset()  # the tools the session was built with: the TOOL_SECONDS labels
    run_id: str | None = None
    run_span: Span | None = None
    tool_calls: OrderedDict[str, tuple[str, int, Span]] = field(default_factory=OrderedDict)


_by_meter: dict[int, _SessionTrace] = {}  # id(meter) -> its session's trace; removed when the meter goes


class SessionObserver:
    """A session's events, observed: `emit` traces and counts each event once it was stored (a refused event did
    not happen); `run_context` is the context a run's driver task starts in, with the run's span current, so
    AutoGen's own spans (its runtime's create/process/publish) become children of `team.run`."""

    def __init__(self, session_id: str, meter: UsageMeter, emit: EventSink, tools: Collection[str] = ()) -> None:
        self._state = _SessionTrace(session_id, frozenset(tools))
        self._emit = emit
        key = id(meter)
        _by_meter[key] = self._state
        weakref.finalize(meter, _by_meter.pop, key, None)

    async def emit(self, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None) -> None:
        await self._emit(payload, run_id, checkpoint=checkpoint)
        try:
            _observe(self._state, payload, run_id)
        except Exception:
            log.exception("telemetry failed on %s", type(payload).__name__)

    def run_context(self, run_id: str) -> contextvars.Context | None:
        span = self._state.run_span if self._state.run_id == run_id else None
        if span is None:
            return None
        context = contextvars.copy_context()
        context.run(otel_context.attach, trace.set_span_in_context(span))  # the task's own copy: never detached
        return context


def observe_session(
    session_id: str, meter: UsageMeter, emit: EventSink, tools: Collection[str] = ()
) -> SessionObserver:
    """`tools`: the names of the tools the session's team was built with (any other name is labelled OTHER)."""
    return SessionObserver(session_id, meter, emit, tools)


def _observe(state: _SessionTrace, payload: SessionPayload, run_id: str | None) -> None:
    if isinstance(payload, RunStarted) and run_id is not None:
        _end_run(state, None)
        state.run_id = run_id
        state.run_span = tracer().start_span(
            "team.run",
            context=otel_context.Context(),  # a trace of its own, not a child of the socket's request span
            attributes={"run_id": run_id, "session_id": state.session_id, "followup": payload.followup},
        )
        log.info("run started", extra={"run_id": run_id, "session_id": state.session_id})
        metrics.ACTIVE_RUNS.inc()
    elif isinstance(payload, RunFinished) and run_id is not None and run_id == state.run_id:
        _end_run(state, payload)
    elif isinstance(payload, TeamMessage) and run_id == state.run_id and state.run_span is not None:
        _tool_event(state, payload)


def _end_run(state: _SessionTrace, finished: RunFinished | None) -> None:
    span, state.run_span = state.run_span, None
    for _, _, tool_span in state.tool_calls.values():
        tool_span.end()
    state.tool_calls.clear()
    if span is None:
        return
    metrics.ACTIVE_RUNS.dec()
    if finished is None:  # a new run started without the old one's end being seen
        span.end()
        return
    outcome = str(finished.stop_reason)
    metrics.RUNS.labels(outcome=closed(outcome, OUTCOME_LABELS)).inc()
    metrics.RUN_SECONDS.observe(finished.duration_s)
    usd = (finished.spent or {}).get("usd")
    if isinstance(usd, int | float):
        metrics.RUN_COST.inc(usd)
        span.set_attribute("cost_usd", float(usd))
    span.set_attributes(
        {
            "stop_reason": outcome,
            "complete": finished.complete,
            "model_calls": finished.usage.model_calls,
            "prompt_tokens": finished.usage.prompt_tokens,
            "completion_tokens": finished.usage.completion_tokens,
        }
    )
    if finished.stop_reason == StopReason.ERROR:
        span.set_status(Status(StatusCode.ERROR, finished.error or "error"))
    span.end()
    log.info(
        "run finished",
        extra={
            "run_id": state.run_id,
            "session_id": state.session_id,
            "stop_reason": outcome,
            "duration_s": finished.duration_s,
            "model_calls": finished.usage.model_calls,
            "tokens": finished.usage.prompt_tokens + finished.usage.completion_tokens,
            "cost_usd": usd,
            "trace_id": format(span.get_span_context().trace_id, "032x"),
        },
    )


def _tool_event(state: _SessionTrace, message: TeamMessage) -> None:
    content = message.data.get("content")
    if not isinstance(content, list):
        return
    now = time.time_ns()
    if message.type == "ToolCallRequestEvent":
        parent = trace.set_span_in_context(state.run_span) if state.run_span is not None else None
        for call in content:
            if not isinstance(call, dict) or not call.get("id"):
                continue
            name = str(call.get("name", "?"))
            span = tracer().start_span(
                "tool.call", context=parent, start_time=now, attributes={"tool": name, "run_id": state.run_id or ""}
            )
            state.tool_calls[str(call["id"])] = (name, now, span)
            while len(state.tool_calls) > MAX_PENDING_TOOL_CALLS:
                _, (_, _, dropped) = state.tool_calls.popitem(last=False)
                dropped.end()
    elif message.type == "ToolCallExecutionEvent":
        for result in content:
            if not isinstance(result, dict):
                continue
            pending = state.tool_calls.pop(str(result.get("call_id")), None)
            if pending is None:
                continue
            name, started, span = pending
            failed = bool(result.get("is_error"))
            label = closed(name, state.tools)
            metrics.TOOL_SECONDS.labels(tool=label, outcome="error" if failed else "ok").observe((now - started) / 1e9)
            span.set_attribute("is_error", failed)
            if failed:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=now)


def on_model_call(call: ModelCall) -> None:
    outcome = "error" if call.error else "ok"
    role = closed(call.role, ROLE_LABELS)
    metrics.MODEL_CALLS.labels(role=role, outcome=outcome).inc()
    metrics.MODEL_SECONDS.labels(role=role).observe((call.end_ns - call.start_ns) / 1e9)
    if call.usage is not None:
        metrics.TOKENS.labels(role=role, kind="prompt").inc(call.usage.prompt_tokens)
        metrics.TOKENS.labels(role=role, kind="completion").inc(call.usage.completion_tokens)
    state = _by_meter.get(id(call.meter))
    parent = trace.set_span_in_context(state.run_span) if state is not None and state.run_span is not None else None
    attributes: dict[str, Any] = {"role": call.role}
    if state is not None and state.run_id is not None:
        attributes["run_id"] = state.run_id
    if call.usage is not None:
        attributes.update(prompt_tokens=call.usage.prompt_tokens, completion_tokens=call.usage.completion_tokens)
    span = tracer().start_span("model.call", context=parent, start_time=call.start_ns, attributes=attributes)
    if call.error:
        span.set_status(Status(StatusCode.ERROR, call.error))
    span.end(end_time=call.end_ns)


def install() -> None:
    """Once a process starts serving (create_app, a worker): every model call feeds the metrics and a span,
    spans go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set, and AutoGen's own spans follow ours."""
    observe_model_calls(on_model_call)
    configure_otlp()
    install_global_provider()
