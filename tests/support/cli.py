"""The `research-team` console script as a person runs it, in its own process: the environment it sees, a
one-shot command (sync or async), and `research-team serve` on a free port until /health answers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.fakes.chat import ChatFake, tool_call
from tests.support.paths import CLI
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE

QUESTION = "What's the weather in Paris right now?"
TOKEN = "cli-test-token-" + "c" * 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(drop: tuple[str, ...] = (), **values: str) -> dict[str, str]:
    """This process's environment less every variable whose name starts with one of `drop`, plus `values`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(drop)}, **values}


def run(
    *args: str, cwd: Path, env: Mapping[str, str], timeout: float = 60, command: tuple[str, ...] = (CLI,)
) -> subprocess.CompletedProcess[str]:
    """`research-team ARGS` (or `command ARGS`) to the end: its exit code, stdout and stderr as text."""
    return subprocess.run([*command, *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)


async def arun(*args: str, cwd: Path, env: Mapping[str, str], timeout: float = 60) -> tuple[int, str, str]:
    """`research-team ARGS` without blocking the test's event loop (a live server in it may be what it calls)."""
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, cwd=cwd, env=dict(env), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run_cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`research-team ARGS` as a person runs `ask` and `runs` at a wide terminal (no APP_ or RESEARCH_TEAM_ set)."""
    return await arun(*args, cwd=cwd, env=cli_env(("APP_", "RESEARCH_TEAM_"), COLUMNS="200"))


def script_paris(chat: ChatFake) -> None:
    """The fake's Manager and Researcher answer QUESTION the way the scripted team does (tests/support/scripted)."""
    chat.add(
        "manager",
        "TASK: Find the current weather in Paris.\nNEXT AGENT: Researcher",
        f"{PARIS_ANSWER} Source: {PARIS_SOURCE}\nTERMINATE",
    )
    chat.add("researcher", tool_call("web_search", {"query": "current weather in Paris"}))  # answers as it is


class ServeProcess:
    """`research-team serve --port PORT` in its own process."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.http_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.stderr = b""
        """What it wrote on stderr, once stopped (when started with stderr=subprocess.PIPE)."""

    async def healthy(self, tries: int = 200) -> httpx.Response:
        """GET /health until it answers 200 (every 0.1 s); fails at once if the process exited."""
        async with httpx.AsyncClient(base_url=self.http_url) as http:
            for _ in range(tries):
                assert self.proc.poll() is None, "the server exited at startup"
                try:
                    response = await http.get("/health")
                    if response.status_code == 200:
                        return response
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("the server did not answer /health")

    def stop(self) -> None:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=15)
        self.stderr = err or b""


@asynccontextmanager
async def serve_process(
    env: Mapping[str, str], cwd: Path, *, port: int | None = None, stderr: int | IO[bytes] = subprocess.DEVNULL
) -> AsyncIterator[ServeProcess]:
    """`research-team serve` on `port` (a free one by default), started and healthy; stopped on the way out."""
    port = port or free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], env=dict(env), cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr
    )
    server = ServeProcess(proc, port)
    try:
        await server.healthy()
        yield server
    finally:
        server.stop()
