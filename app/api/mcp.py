"""The team as an MCP server at `/mcp` (streamable HTTP, the official `mcp` SDK's MCPServer).

Tools: `ask_team(question)` runs the team in a fresh session of the caller and returns the answer with its
sources, sending a progress notification per step while the team works (when the client asked for progress);
`get_run(run_id)` and `list_runs()` read the caller's run history. Who calls is decided before MCP sees the
request: /mcp is not an open path, so the access guard (app/sessions/access.py) refuses it without a user's token (when
users are configured) and puts the user in the request's state, the same way as for REST and WebSockets.
The SDK's own Host/Origin check is off because the guard already does it with ALLOWED_HOSTS/ALLOWED_ORIGINS.

A client that goes away mid-run (the tool call is cancelled) cancels the run.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from agents.session.errors import SessionCommandError
from app.api.deps import services_of
from app.api.mcp_gate import McpGate, gate_kwargs
from app.core.settings import Settings
from app.core.steps import describe_step
from app.services import Services
from app.store.event_log import Inbox
from app.store.session_table import TooManySessions

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
PROGRESS_INBOX = 2000  # team events buffered for progress notifications; past it steps are skipped, not the answer
MAX_LIST = 100
EVENTS_PAGE = 1000
RUN_FIELDS = ("run_id", "session_id", "task", "status", "created_at", "finished_at", "final_answer", "stop_reason")


def _user(ctx: Context) -> str:
    request = ctx.request_context.request
    state = getattr(request, "scope", {}).get("state", {})
    user = state.get("user")
    if not isinstance(user, str):  # the guard refuses such requests; a transport without one lands here
        raise ToolError("A valid token is required.")
    return user


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    summary = {key: run.get(key) for key in RUN_FIELDS}
    summary["usage"] = run.get("usage")
    summary["duration_s"] = run.get("duration_s")
    return summary


class TeamMcp:
    """The MCP server bound to one FastAPI app's services."""

    gate: McpGate | None = None

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        root = logging.getLogger()
        kept = root.handlers[:], root.level
        self.server: MCPServer = MCPServer(
            name="research-team",
            title="Research team",
            instructions="A Manager, a Researcher (web, Wikipedia, arXiv) and a Developer (Python) answer a "
            "question with sources. ask_team can take minutes; it reports progress while the team works.",
        )
        # The SDK calls logging.basicConfig (a Rich handler at INFO on the root logger) when it finds none:
        # logging is ours (app/core/logging_setup.py), and at INFO AutoGen logs every message it passes.
        root.handlers, root.level = kept[0], kept[1]
        self.server.tool(description="Ask the research team a question; returns the answer with its sources.")(
            self.ask_team
        )
        self.server.tool(description="One of your runs by id: task, status, answer, usage.")(self.get_run)
        self.server.tool(description="Your most recent runs, newest first.")(self.list_runs)

    @property
    def services(self) -> Services:
        return services_of(self._app)

    async def ask_team(self, question: str, ctx: Context) -> dict[str, Any]:
        services, user = self.services, _user(ctx)
        question = question.strip()
        if not question:
            raise ToolError("The question is empty.")
        if len(question) > services.settings.ws_max_task_chars:
            raise ToolError(f"The question is longer than {services.settings.ws_max_task_chars} characters.")
        try:
            attached = await services.registry.attach(None, user)
        except TooManySessions as exc:
            raise ToolError(str(exc)) from None
        entry = attached.entry
        inbox = Inbox(PROGRESS_INBOX)
        entry.log.subscribe(inbox)
        run_id: str | None = None
        finished: dict[str, Any] | None = None
        try:
            try:
                run_id = str((await entry.session.submit_task(question))["run_id"])
            except SessionCommandError as exc:
                raise ToolError(exc.message) from None
            finished = await self._follow(ctx, inbox, run_id, entry.session.wait_idle)
            return {"run_id": run_id, "session_id": entry.log.session_id, **finished}
        finally:
            entry.log.unsubscribe(inbox)
            inbox.close()
            if finished is None and run_id is not None and entry.session.run_id == run_id:
                await self._cancel(entry.session)
            await services.registry.detach(entry)

    async def _follow(self, ctx: Context, inbox: Inbox, run_id: str, wait_idle: Any) -> dict[str, Any]:
        """Report each step as progress until the run finishes; returns its run_finished data."""
        timeout = self.services.settings.run_timeout_s + 60.0
        step = 0
        async with asyncio.timeout(timeout):
            while True:
                delivery = await inbox.get()
                if delivery is None:  # overflowed: stop reporting, wait for the end, read it from the store
                    await wait_idle()
                    return await self._finished_from_store(run_id)
                event = json.loads(delivery.text)
                if event.get("run_id") != run_id:
                    continue
                if event.get("type") == "run_finished":
                    return _answer(event["data"])
                line = describe_step(event)
                if line is not None:
                    step += 1
                    await ctx.report_progress(step, None, line)

    async def _finished_from_store(self, run_id: str) -> dict[str, Any]:
        after = 0
        while True:
            page = await self.services.store.run_events(run_id, after_seq=after, limit=EVENTS_PAGE)
            for event in page:
                if event.get("type") == "run_finished":
                    return _answer(event["data"])
            if len(page) < EVENTS_PAGE:
                raise ToolError("The run ended without a result; see get_run.")
            after = int(page[-1]["seq"])

    @staticmethod
    async def _cancel(session: Any) -> None:
        try:
            await session.cancel()
        except SessionCommandError:
            pass  # it finished meanwhile

    async def get_run(self, run_id: str, ctx: Context) -> dict[str, Any]:
        run = await self.services.store.get_run(run_id[:64], owner=_user(ctx))
        if run is None:
            raise ToolError(f"No run with id {run_id[:64]!r}.")
        return _run_summary(run)

    async def list_runs(self, ctx: Context, limit: int = 20, status: str | None = None) -> dict[str, Any]:
        limit = max(1, min(limit, MAX_LIST))
        runs = await self.services.store.list_runs(owner=_user(ctx), limit=limit, offset=0, status=status)
        return {"runs": [_run_summary(r) for r in runs]}


def _answer(finished: dict[str, Any]) -> dict[str, Any]:
    return {
        "answer": finished.get("final_answer", ""),
        "sources": finished.get("sources", []),
        "complete": finished.get("complete", False),
        "stop_reason": finished.get("stop_reason"),
        "error": finished.get("error"),
        "usage": finished.get("usage"),
        "spent": finished.get("spent"),
        "duration_s": finished.get("duration_s"),
    }


def mount_mcp(app: FastAPI, settings: Settings) -> TeamMcp:
    """Serve the team's MCP server at /mcp and run its session manager within the app's lifespan. Sessions are
    bound to their user, capped per user and in all, and closed when idle (app/api/mcp_gate.py)."""
    team_mcp = TeamMcp(app)
    team_mcp.server.streamable_http_app(  # builds the session manager; its Starlette app itself is not used
        streamable_http_path=MCP_PATH,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        **gate_kwargs(settings),
    )
    manager = team_mcp.server.session_manager
    gate = McpGate(StreamableHTTPASGIApp(manager), manager, per_user=settings.mcp_sessions_per_user)
    team_mcp.gate = gate
    # A plain Starlette route whose endpoint is an ASGI app (as the SDK's own app does), not a FastAPI route.
    app.router.routes.append(Route(MCP_PATH, gate, methods=["GET", "POST", "DELETE"]))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state, manager.run():
            yield state

    app.router.lifespan_context = lifespan
    return team_mcp
