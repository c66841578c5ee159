"""What the issue-16 tools cost: a question through MCP vs /ws/team, a /metrics scrape, a stdio MCP tool call
(a server process per call), and the `research-team` CLI's start-up. Scripted team, loopback, bounded.

    .venv/bin/python -m bench.ecosystem --runs 20
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agents.team.mcp_tools import McpServerConfig, discover_tools
from bench.stats import percentiles
from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.scripted import paris_script

QUESTION = "What's the weather in Paris right now?"
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mcp_stdio_server.py"


async def ws_runs(server: object, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        client = await server.connect()  # type: ignore[attr-defined]
        await client.recv()
        await client.send({"type": "task", "text": QUESTION})
        await client.until(lambda e: e["type"] == "run_finished", timeout=20)
        await client.close()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def mcp_runs(url: str, runs: int) -> tuple[list[float], int]:
    times, notes = [], 0

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        nonlocal notes
        notes += 1

    for _ in range(runs):
        start = time.perf_counter()
        async with Client(streamable_http_client(url, http_client=httpx2.AsyncClient())) as client:
            result = await client.call_tool("ask_team", {"question": QUESTION}, progress_callback=on_progress)
            assert not result.is_error
        times.append((time.perf_counter() - start) * 1000)
    return times, notes


async def scrapes(http_url: str, count: int) -> tuple[list[float], int]:
    times, size = [], 0
    async with httpx.AsyncClient(base_url=http_url) as http:
        for _ in range(count):
            start = time.perf_counter()
            response = await http.get("/metrics")
            times.append((time.perf_counter() - start) * 1000)
            size = len(response.content)
    return times, size


async def stdio_tool_calls(count: int) -> list[float]:
    from autogen_core import CancellationToken

    server = McpServerConfig(name="fixture", command=sys.executable, args=[str(FIXTURE)])
    tool = next(t for t in await discover_tools(server, 4000) if t.name == "fixture_city_population")
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await tool.run_json({"city": "Lyon"}, CancellationToken())
        times.append((time.perf_counter() - start) * 1000)
    return times


def cli_startups(count: int) -> list[float]:
    cli = str(Path(sys.executable).with_name("research-team"))
    times = []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run([cli, "ask", "--help"], capture_output=True, check=True, timeout=60)
        times.append((time.perf_counter() - start) * 1000)
    return times


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = scripted_app(Path(tmp), ScriptBook(lambda: paris_script()))
        async with live_app(app) as server:
            await ws_runs(server, 2)  # warm-up
            print(f"question over /ws/team, whole run:       {percentiles(await ws_runs(server, runs))}")
            times, progress = await mcp_runs(f"{server.http_url}/mcp", runs)
            print(
                f"question over MCP ask_team, whole run:   {percentiles(times)}   {progress / runs:.1f} progress notes/run"
            )
            times, size = await scrapes(server.http_url, 50)
            print(f"GET /metrics after {runs * 2 + 2} runs:             {percentiles(times)}   {size:,} bytes")
    print(f"stdio MCP tool call (process per call):  {percentiles(await stdio_tool_calls(max(3, runs // 4)))}")
    print(f"research-team ask --help (CLI start-up): {percentiles(cli_startups(3))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(min(parser.parse_args().runs, 200)))
