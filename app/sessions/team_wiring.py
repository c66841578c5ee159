"""Builds a TeamSession for a session id: model clients, tools, limits, and where its events go."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.teams import SelectorGroupChat
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import BaseTool

from agents.manager.tools import DELEGATE, FINISH
from agents.models.clients import ModelConfigError, TeamModelClients, raw_model_clients, uses_openai_api
from agents.models.metering import UsageMeter
from agents.session.team_session import SessionLimits, TeamSession
from agents.team.build import TeamControls, TeamLimits, build_team
from app.core.prices import role_prices
from app.core.settings import Settings
from app.core.telemetry import observe_session
from app.sessions.user_limits import UserLimits
from app.store.event_log import SessionEventLog

NO_MODEL_MESSAGE = (
    "No model is configured, so the team cannot work. Set OPENAI_API_KEY in .env (or the environment) and "
    "restart the server; for another OpenAI-compatible server also set OPENAI_BASE_URL, or set "
    "MODEL_CONFIG_FILE to an AutoGen model config file."
)

ModelClientsFactory = Callable[[str], TeamModelClients]
DeveloperToolsFactory = Callable[[str], Sequence[BaseTool[Any, Any]]]


@dataclass
class TeamWiring:
    settings: Settings
    researcher_tools: Sequence[BaseTool[Any, Any]]
    developer_tools: DeveloperToolsFactory
    release_session: Callable[[str], Awaitable[None]] | None = None  # frees the session's code sandbox
    model_clients: ModelClientsFactory | None = None  # tests pass scripted clients here
    checkpoints: bool = False  # workers store each session's state with its events (agents/session/checkpoint.py)
    run_slots: asyncio.Semaphore | None = None  # runs at work at once in this process (WORKER_MAX_ACTIVE_RUNS)
    user_limits: UserLimits | None = None  # runs in flight and USD per day, per user (app/sessions/user_limits.py)
    _shared: dict[str, ChatCompletionClient] | None = field(default=None, init=False)

    def _clients(self, session_id: str) -> tuple[TeamModelClients | None, str | None]:
        """The session's metered clients (own meter, shared model clients) and whether they are its own to
        close (only scripted ones from tests are)."""
        if self.model_clients is not None:
            return self.model_clients(session_id), None
        if not self.settings.has_model_access:
            return None, NO_MODEL_MESSAGE
        try:
            if self._shared is None:
                self._shared = raw_model_clients(self.settings)
            return TeamModelClients.wrap(self._shared, cache_keys=uses_openai_api(self.settings)), None
        except (ModelConfigError, OSError) as exc:
            return None, f"The model configuration is not usable: {exc}"

    async def close(self) -> None:
        """Close the shared model clients (at shutdown, after every session)."""
        shared, self._shared = self._shared, None
        for client in {id(c): c for c in (shared or {}).values()}.values():
            await client.close()

    async def build_session(self, session_id: str, event_log: SessionEventLog) -> TeamSession:
        clients, unavailable = self._clients(session_id)
        limits = TeamLimits(
            max_messages=self.settings.max_messages,
            run_timeout_s=self.settings.run_timeout_s,
            max_tool_iterations=self.settings.max_tool_iterations,
            deterministic_selector=self.settings.deterministic_selector,
            budget=self.settings.run_budget(),
            max_stalls=self.settings.manager_max_stalls,
        )
        researcher_tools = list(self.researcher_tools)
        prices = role_prices(self.settings)  # run_finished.spent.usd and RUN_MAX_USD (app/core/prices.py)
        developer_tools = list(self.developer_tools(session_id)) if clients is not None else []

        def factory() -> tuple[SelectorGroupChat, TeamControls]:
            assert clients is not None
            return build_team(
                clients,
                researcher_tools=researcher_tools,
                developer_tools=developer_tools,
                limits=limits,
                prices=prices,
            )

        async def on_close() -> None:
            if clients is not None and self.model_clients is not None:
                await clients.close()  # scripted clients are the session's own; shared ones close at shutdown
            if self.release_session is not None:
                await self.release_session(session_id)

        meter = clients.meter if clients is not None else UsageMeter()
        # The tools this team was built with, MCP servers' included: the only tool names metrics label.
        tools = [t.name for t in (*researcher_tools, *developer_tools)] + [DELEGATE, FINISH]
        observer = observe_session(session_id, meter, event_log.publish, tools)
        return TeamSession(
            session_id,
            factory=factory,
            meter=meter,
            emit=observer.emit,  # traces and metrics (app/core/telemetry.py)
            run_context=observer.run_context,
            limits=SessionLimits(
                cancel_grace_s=self.settings.cancel_grace_s,
                max_followups=self.settings.max_followups,
                hard_timeout_s=self.settings.run_timeout_s + 30.0,
            ),
            default_budget=limits.budget,
            unavailable=unavailable,
            on_close=on_close,
            checkpoints=self.checkpoints,
            run_slots=self.run_slots,
            admit=functools.partial(self.user_limits.admit, event_log.owner) if self.user_limits else None,
        )
