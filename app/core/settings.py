"""The one settings object, read from the environment and `.env` (pydantic-settings): the server's and the team's
fields here, with a section for the voice front (`settings.voice`) and one for the tools (`settings.tools`). Each
section reads the same environment under the same names as before; they are built once, with the rest.

Every field has an embedded default so `uvicorn app.main:app` runs with no configuration at all:
SQLite run store, local code execution, OpenAI models (a task then needs OPENAI_API_KEY).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from agents.models.budget import RunBudget
from agents.models.openai_models import ReasoningEffort
from app.core.default_models import DEFAULT_REALTIME_MODEL, DEFAULT_TEAM_MODEL, DEFAULT_TRANSCRIPTION_MODEL
from app.core.prices import ModelPrice, default_prices
from app.core.voice_settings import VoiceSettings
from tools.config import ToolSettings

T = TypeVar("T", int, float)


class TaskBudgetLike(Protocol):
    @property
    def max_model_calls(self) -> int | None: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def max_usd(self) -> float | None: ...


class Settings(BaseSettings):
    # env_ignore_empty: `OPENAI_API_KEY=` (a copied .env.example, docker compose's env_file) means "not set",
    # not an empty key that claims model access and makes the OpenAI client raise at startup.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # --- models -------------------------------------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = Field(
        default=None, description="Any OpenAI-compatible server; also used for realtime."
    )
    model_config_file: Path | None = Field(
        default=None,
        description="AutoGen component config (JSON or YAML) with a client per role: manager, researcher, developer, "
        "selector, or default. Used instead of OpenAI when set.",
    )
    # Defaults: OpenAI models with no announced shutdown, chosen in the README ("Models"), read 2026-12-07.
    manager_model: str = DEFAULT_TEAM_MODEL
    researcher_model: str = DEFAULT_TEAM_MODEL
    developer_model: str = DEFAULT_TEAM_MODEL
    selector_model: str = DEFAULT_TEAM_MODEL
    manager_reasoning_effort: ReasoningEffort | None = Field(
        default=None, description="Sent as reasoning_effort; unset: what the model needs to call tools (none)."
    )
    researcher_reasoning_effort: ReasoningEffort | None = None
    developer_reasoning_effort: ReasoningEffort | None = None
    selector_reasoning_effort: ReasoningEffort | None = None
    eval_judge_model: str | None = Field(
        default=None,
        description="`research-team eval`: the model that judges answers of questions with match 'judge' (through "
        "OPENAI_BASE_URL); unset: those questions are scored 'contains'.",
    )
    model_check_every_s: float = Field(
        default=6 * 3600.0, ge=60, description="How often GET /v1/models is read for missing or retiring models."
    )
    model_timeout_s: float = 60.0
    model_max_retries: int = 3

    # --- team limits --------------------------------------------------------------------------
    max_messages: int = 40
    run_timeout_s: float = 600.0
    max_tool_iterations: int = 4
    cancel_grace_s: float = 2.0
    max_followups: int = 5
    run_max_model_calls: int | None = Field(default=30, ge=1, description="Model calls a run may make (budget).")
    run_max_tokens: int | None = Field(default=150_000, ge=1, description="Prompt + completion tokens per run.")
    run_max_usd: float | None = Field(default=None, gt=0, description="USD per run; enforced once prices are set.")
    manager_max_stalls: int = Field(default=2, ge=1, description="Manager turns without progress before a stop.")
    mcp_servers: Path | None = Field(
        default=None,
        description="JSON or YAML file of MCP servers whose tools the agents get (agents/team/mcp_tools.py).",
    )
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=default_prices,
        description='USD per million tokens by model, JSON: {"gpt-4.1-mini": {"input": 0.4, "output": 1.6}}. '
        "Replaces the default table (app/core/prices.py); a run's cost is unknown when a model it used has no price.",
    )
    deterministic_selector: bool = Field(
        default=True,
        description="Route turns by rule (agents/manager/routing.py) and "
        "ask the selector model only when the Manager names nobody.",
    )

    # --- storage ------------------------------------------------------------------------------
    database_url: str = "sqlite+aiosqlite:///./data/runs.db"

    # --- distribution (app/distributed): gateways and workers on Redis -------------------------
    redis_url: str | None = Field(
        default=None, description="Set: `serve` runs a gateway and `worker` a worker, both on this Redis."
    )
    lease_ttl_s: float = Field(default=5.0, gt=0.2, description="A worker holds each of its sessions this long.")
    command_timeout_s: float = Field(default=10.0, gt=0, description="A gateway waits this long for a worker.")
    worker_max_sessions: int = Field(default=2000, ge=1, description="Sessions one worker hosts at most.")
    worker_max_active_runs: int = Field(
        default=200, ge=1, description="Runs one worker works on at once; more wait their turn (started, queued)."
    )
    worker_metrics_port: int | None = Field(default=None, description="A worker serves /metrics on this port.")
    cluster_secret: SecretStr | None = Field(
        default=None,
        description="With REDIS_URL: the secret every gateway and worker shares (at least 32 characters); it signs "
        "what they say to each other over Redis (app/distributed/signing.py). `serve --workers N` makes one for "
        "its own workers when unset.",
    )

    # --- websocket ----------------------------------------------------------------------------
    ws_max_frame_bytes: int = 64 * 1024
    ws_max_task_chars: int = 8000
    ws_rate_per_s: float = 20.0
    ws_rate_burst: int = 40
    ws_send_queue: int = 2000
    voice_rate_per_s: float = 100.0  # /ws/voice: audio arrives every 20-100 ms; text far less often
    voice_rate_burst: int = 200
    session_idle_s: float = 300.0  # a session with no connection and no run is closed after this

    # --- realtime narrator --------------------------------------------------------------------
    realtime_model: str = DEFAULT_REALTIME_MODEL
    realtime_voice: str = "marin"
    realtime_transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    progress_update_after_s: float = 20.0
    max_progress_updates: int = 1
    session_rate_per_min: int = 10

    # --- server -------------------------------------------------------------------------------
    app_token: SecretStr | None = Field(default=None, description="When set, the API and WebSockets need it.")
    app_users: dict[str, SecretStr] = Field(
        default_factory=dict, description='Users and their tokens, a JSON object: {"alice": "token", ...}.'
    )
    auth_trusted_header: str | None = Field(
        default=None, description="A header naming the user (SSO proxies), accepted only from trusted_proxies."
    )
    trusted_proxies: list[str] = Field(default_factory=list, description="IPs or CIDRs of the SSO proxy.")
    max_sessions_per_user: int = Field(default=50, ge=1)
    mcp_sessions_per_user: int = Field(default=8, ge=1, description="MCP sessions one user may hold open at once.")
    mcp_max_sessions: int = Field(default=1000, ge=1, description="MCP sessions the server holds open in all.")
    mcp_session_idle_s: float = Field(default=600.0, gt=0, description="An MCP session idle this long is closed.")
    max_runs_per_user: int = Field(
        default=5, ge=1, description="Runs one user may have in flight at once (across the cluster)."
    )
    user_usd_per_day: float | None = Field(
        default=5.0,
        gt=0,
        description="USD one user's runs may cost per day (UTC), from the price table; unset (empty): no limit.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra browser origins (besides the "
        "server's own host) allowed to call the API and open WebSockets.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description="Host names this server answers to (DNS-rebinding guard); '*' for any. `research-team serve` "
        "adds its bind address.",
    )
    max_sessions: int = Field(default=1000, ge=1, description="Live sessions in all; more are refused clearly.")
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON log lines; unset: JSON unless stderr is a terminal (then readable lines)."
    )

    # --- sections (their own fields, same environment names) ----------------------------------------
    voice: VoiceSettings = Field(default_factory=VoiceSettings, exclude=True)
    """The voice front: which backend speaks, GPT-Live's model, voice sessions per user (app/core/voice_settings.py)."""
    tools: ToolSettings = Field(default_factory=ToolSettings, exclude=True)
    """The team's tools: search engines, fetching, the code sandbox (tools/config.py)."""

    def run_budget(self, task: TaskBudgetLike | None = None) -> RunBudget:
        """The server's budget per run, narrowed by a task's own (a task may ask for less, never for more)."""

        def narrower(server: T | None, asked: T | None) -> T | None:
            if asked is None:
                return server
            return asked if server is None else min(server, asked)

        return RunBudget(
            max_model_calls=narrower(self.run_max_model_calls, task.max_model_calls if task else None),
            max_tokens=narrower(self.run_max_tokens, task.max_tokens if task else None),
            max_usd=narrower(self.run_max_usd, task.max_usd if task else None),
        )

    def secret_values(self) -> list[str]:
        """Every configured secret, so logs and events can be scrubbed of them."""
        secrets = [self.openai_api_key, self.app_token, self.cluster_secret, *self.app_users.values()]
        found = [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]
        redis_password = unquote(urlsplit(self.redis_url).password or "") if self.redis_url else None
        return [*found, redis_password] if redis_password else found

    def cluster_secret_value(self) -> str | None:
        return self.cluster_secret.get_secret_value() if self.cluster_secret is not None else None

    def static_users(self) -> dict[str, str]:
        """APP_USERS, plus APP_TOKEN as the user "owner"."""
        found = {name: token.get_secret_value() for name, token in self.app_users.items()}
        if self.app_token is not None and self.app_token.get_secret_value():
            found.setdefault("owner", self.app_token.get_secret_value())
        return found

    @property
    def has_model_access(self) -> bool:
        return self.openai_api_key is not None or self.model_config_file is not None
