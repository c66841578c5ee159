"""Prometheus metrics, served at `GET /metrics` (app/api/meta.py) from the official prometheus-client.

Counters and histograms are fed by app/core/telemetry.py (runs, model calls, tool calls, cost) and the voice
front's meter (app/realtime/voice_usage.py: voice minutes and cost); gauges are read when
scraped (live sessions, the run store's write queue). One registry for the process, not the client's global
default, so only our metrics are served. /metrics is guarded like the API: with users configured, a scraper sends
a token (`authorization: credentials` in Prometheus).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Counter("research_team_runs", "Runs finished, by outcome (stop_reason).", ["outcome"], registry=REGISTRY)
RUN_SECONDS = Histogram(
    "research_team_run_duration_seconds",
    "Wall time of finished runs.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
    registry=REGISTRY,
)
RUN_COST = Counter("research_team_run_cost_usd", "USD spent by finished runs whose price is known.", registry=REGISTRY)
MODEL_CALLS = Counter(
    "research_team_model_calls", "Model calls by team role and outcome.", ["role", "outcome"], registry=REGISTRY
)
MODEL_SECONDS = Histogram(
    "research_team_model_call_duration_seconds",
    "Model call latency by role.",
    ["role"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60),
    registry=REGISTRY,
)
TOKENS = Counter(
    "research_team_tokens", "Tokens by role and kind (prompt, completion).", ["role", "kind"], registry=REGISTRY
)
TOOL_SECONDS = Histogram(
    "research_team_tool_call_duration_seconds",
    "Tool call latency (request to result, as the team saw it) by tool and outcome.",
    ["tool", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
ACTIVE_SESSIONS = Gauge("research_team_active_sessions", "Live team sessions.", registry=REGISTRY)
ACTIVE_RUNS = Gauge("research_team_active_runs", "Runs started and not finished yet.", registry=REGISTRY)
VOICE_MINUTES = Counter(
    "research_team_voice_minutes",
    "Minutes of voice audio by backend (realtime, live), transport (relay, webrtc) and direction (in: the person, "
    "out: the narrator). Relay: the audio carried; WebRTC: the speech the service reports (README).",
    ["backend", "transport", "direction"],
    registry=REGISTRY,
)
VOICE_COST = Counter(
    "research_team_voice_cost_usd",
    "USD of voice sessions whose model has a price (Realtime: reported tokens; GPT-Live: reported minutes).",
    ["backend", "transport"],
    registry=REGISTRY,
)
STORE_QUEUE = Gauge(
    "research_team_store_queue_depth", "Events waiting for the run store's writer to commit them.", registry=REGISTRY
)
MODEL_AVAILABLE = Gauge(
    "research_team_model_available",
    "1 when the model a setting names is served (GET /v1/models), 0 when it is gone (app/sessions/model_lifecycle.py).",
    ["setting", "model"],
    registry=REGISTRY,
)
MODEL_DAYS_LEFT = Gauge(
    "research_team_model_days_left",
    "Days until the shutdown date OpenAI announced for the model a setting names (only models with a date).",
    ["setting", "model"],
    registry=REGISTRY,
)
