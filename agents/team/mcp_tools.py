"""Tools from MCP servers for the team's agents: MCP_SERVERS names a JSON or YAML file of servers per agent.

    researcher:
      - name: files                      # tool names become files_<tool>
        transport: stdio                 # stdio, sse or streamable-http
        command: python
        args: [my_server.py]
      - name: docs
        transport: streamable-http
        url: http://127.0.0.1:9000/mcp
        headers: {Authorization: Bearer ...}
    developer: [...]

Why not AutoGen's McpWorkbench: autogen-ext 0.7.5's MCP module is written against mcp 1.x and does not import
with mcp 2.x, which the server side (/mcp) needs. So each remote tool is an ordinary AutoGen tool here (the same
routing, metering and tracing as ours), through the official mcp client. Its output is trimmed to
TOOL_OUTPUT_MAX_CHARS, a failure (error result, exception, timeout) comes back to the model as text, never as an
exception, and a server that cannot be reached at start-up is left out with a warning instead of stopping the
server. Each call opens its own connection (a stdio server is started per call): simple, and a server that died
is simply started again; keep-alive connections are a later optimisation.
A stdio server gets only the MCP SDK's safe environment (PATH, HOME, ...) plus its own `env`: no API keys.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.tools import BaseTool
from autogen_core.utils import schema_to_pydantic_model
from pydantic import BaseModel, Field, model_validator

log = logging.getLogger(__name__)

ROLES = ("researcher", "developer")
MAX_TOOLS_PER_SERVER = 32
TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")


class McpServerConfig(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,24}$", description="Prefix of its tools' names.")
    transport: Literal["stdio", "sse", "streamable-http"] = "stdio"
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    tools: list[str] | None = Field(default=None, description="Only these of its tools (default: all).")

    @model_validator(mode="after")
    def _needs_target(self) -> McpServerConfig:
        if self.transport == "stdio" and not self.command:
            raise ValueError(f"MCP server {self.name!r}: stdio needs a command")
        if self.transport != "stdio" and not self.url:
            raise ValueError(f"MCP server {self.name!r}: {self.transport} needs a url")
        return self


class McpServers(BaseModel):
    researcher: list[McpServerConfig] = Field(default_factory=list)
    developer: list[McpServerConfig] = Field(default_factory=list)


def load_mcp_servers(path: Path) -> McpServers:
    """The servers file (JSON or YAML); ValueError with the reason when it is not usable."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"MCP_SERVERS {path}: {exc}") from None
    try:
        return McpServers.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"MCP_SERVERS {path}: {exc}") from None


def _client(server: McpServerConfig) -> Any:
    from mcp import Client, StdioServerParameters

    if server.transport == "stdio":
        assert server.command is not None
        params = StdioServerParameters(command=server.command, args=server.args, env=server.env, cwd=server.cwd)
        return Client(params, read_timeout_seconds=server.timeout_s)
    assert server.url is not None
    transport: AbstractAsyncContextManager[Any]
    if server.transport == "sse":
        from mcp.client.sse import sse_client

        transport = sse_client(server.url, headers=server.headers, sse_read_timeout=server.timeout_s)
    else:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers=server.headers, timeout=server.timeout_s)
        transport = streamable_http_client(server.url, http_client=http)
    return Client(transport, read_timeout_seconds=server.timeout_s)


def _text_of(result: Any) -> str:
    parts = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')} not shown]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(str(result.structured_content))
    return "\n".join(parts)


class McpTool(BaseTool[BaseModel, Any]):
    """One tool of an MCP server, called through a fresh connection each time."""

    def __init__(self, server: McpServerConfig, name: str, description: str, schema: dict[str, Any], max_chars: int):
        self.server = server
        self.remote_name = name
        self._max_chars = max_chars
        local = TOOL_NAME.sub("_", f"{server.name}_{name}")[:64]
        args_type = schema_to_pydantic_model(schema or {"type": "object", "properties": {}}, model_name=f"{local}_args")
        super().__init__(args_type, str, local, (description or name)[:1024])

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> str:
        from tools.trim import truncate

        arguments = args.model_dump(exclude_none=True)
        call = asyncio.ensure_future(self._call(arguments))
        cancellation_token.link_future(call)
        try:
            async with asyncio.timeout(self.server.timeout_s):
                text, failed = await call
        except TimeoutError:
            return f"Error: the MCP tool {self.name} did not answer within {self.server.timeout_s:g} s."
        except Exception as exc:  # noqa: BLE001 - the model is told, the run goes on
            return f"Error: the MCP tool {self.name} failed: {type(exc).__name__}: {exc}"
        return truncate(f"Error: {text}" if failed else text, self._max_chars)

    async def _call(self, arguments: dict[str, Any]) -> tuple[str, bool]:
        async with _client(self.server) as client:
            result = await client.call_tool(self.remote_name, arguments)
        return _text_of(result), bool(getattr(result, "is_error", False))


async def discover_tools(server: McpServerConfig, max_chars: int) -> list[McpTool]:
    """The server's tools (those allowed by `tools`), or [] with a warning when it cannot be reached."""
    try:
        async with asyncio.timeout(server.timeout_s):
            async with _client(server) as client:
                listed = (await client.list_tools()).tools
    except Exception as exc:  # noqa: BLE001 - a missing MCP server must not stop ours
        log.warning("MCP server %s left out: %s: %s", server.name, type(exc).__name__, exc)
        return []
    wanted = [t for t in listed if server.tools is None or t.name in server.tools][:MAX_TOOLS_PER_SERVER]
    return [McpTool(server, t.name, t.description or "", dict(t.input_schema or {}), max_chars) for t in wanted]


async def load_mcp_tools(path: Path, max_chars: int) -> dict[str, list[McpTool]]:
    """role -> its MCP tools, from the MCP_SERVERS file."""
    servers = load_mcp_servers(path)
    found: dict[str, list[McpTool]] = {}
    for role in ROLES:
        configs: list[McpServerConfig] = getattr(servers, role)
        lists = await asyncio.gather(*(discover_tools(s, max_chars) for s in configs))
        found[role] = [tool for tools in lists for tool in tools]
        if found[role]:
            log.info("MCP tools for %s: %s", role, ", ".join(t.name for t in found[role]))
    return found


async def add_mcp_tools(
    path: Path,
    researcher_tools: Sequence[BaseTool[Any, Any]],
    developer_tools: Callable[[str], Sequence[BaseTool[Any, Any]]],
    max_chars: int,
) -> tuple[list[BaseTool[Any, Any]], Callable[[str], Sequence[BaseTool[Any, Any]]]]:
    """The agents' tools with their MCP tools added (the Developer's tools stay per session)."""
    found = await load_mcp_tools(path, max_chars)
    extra_dev: list[BaseTool[Any, Any]] = list(found.get("developer", []))

    def developer(session_id: str) -> Sequence[BaseTool[Any, Any]]:
        return [*developer_tools(session_id), *extra_dev]

    return [*researcher_tools, *found.get("researcher", [])], developer
