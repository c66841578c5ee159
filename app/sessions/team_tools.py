"""The team's tools for a process that hosts sessions (the embedded server, a worker): the real ones unless
tests pass their own, the code sandbox, and MCP servers' tools (MCP_SERVERS)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autogen_core.tools import BaseTool

from agents.team.mcp_tools import add_mcp_tools
from app.core.settings import Settings
from app.sessions.team_wiring import DeveloperToolsFactory

if TYPE_CHECKING:
    from tools.code_execution import CodeSandbox


@dataclass
class TeamTools:
    researcher: Sequence[BaseTool[Any, Any]]
    developer: DeveloperToolsFactory
    release: Callable[[str], Awaitable[None]] | None = None  # frees a session's sandbox
    sandbox: CodeSandbox | None = None
    secrets: list[str] = field(default_factory=list)  # the tools' own secrets, scrubbed like the settings'

    async def close(self) -> None:
        if self.sandbox is not None:
            await self.sandbox.stop()


async def open_team_tools(
    settings: Settings,
    researcher_tools: Sequence[BaseTool[Any, Any]] | None,
    developer_tools: DeveloperToolsFactory | None,
) -> TeamTools:
    """Tests' tools where given; the real ones (and a started sandbox) otherwise; plus MCP servers' tools."""
    secrets: list[str] = []
    sandbox = None
    release = None
    if researcher_tools is None or developer_tools is None:
        from tools import build_researcher_tools
        from tools.code_execution import CodeSandbox

        tool_settings = settings.tools
        secrets += tool_settings.secret_values()
        if researcher_tools is None:
            researcher_tools = build_researcher_tools(tool_settings)
        if developer_tools is None:
            started = CodeSandbox.from_settings(tool_settings)
            await started.start()
            sandbox, release = started, started.release
            developer_tools = lambda sid: [started.tool_for(sid)]  # noqa: E731 - one line, one job
    if settings.mcp_servers is not None:  # tools from MCP servers, per agent (agents/team/mcp_tools.py)
        researcher_tools, developer_tools = await add_mcp_tools(
            settings.mcp_servers, researcher_tools, developer_tools, settings.tools.tool_output_max_chars
        )
    return TeamTools(researcher_tools, developer_tools, release, sandbox, secrets)
