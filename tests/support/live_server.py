"""Run the real app under uvicorn on a free loopback port, inside the test's event loop, and talk to it with
a real WebSocket client (the `websockets` package) with timeouts on every receive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
import websockets
from fastapi import FastAPI

from agents.models.clients import TeamModelClients
from app.core.settings import Settings
from app.core.voice_settings import VoiceSettings
from app.main import create_app
from tests.support.scripted import Script, developer_tools, research_tools

if TYPE_CHECKING:  # the benches' server processes import this module without the fake
    from tests.fakes.server import FakeOpenAI


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}",
        "openai_api_key": "sk-" + "test-not-a-real-key-0000000000",  # split: no key-shaped literal in git
        # Nothing in a test may reach api.openai.com: without a fake, OpenAI calls go to a closed local port.
        "openai_base_url": "http://127.0.0.1:9/v1",
        "log_json": True,
        "cancel_grace_s": 0.5,
    }
    values.update(overrides)
    values.setdefault("voice", VoiceSettings(_env_file=None))
    return Settings(_env_file=None, **values)


class ScriptBook:
    """Hands each new session the clients of the next script (or a script made by `default`)."""

    def __init__(self, default: Callable[[], Script] | None = None) -> None:
        self.default = default
        self.queue: list[Script] = []
        self.raw: dict[str, dict[str, Any]] = {}

    def __call__(self, session_id: str) -> TeamModelClients:
        script = self.queue.pop(0) if self.queue else (self.default() if self.default else Script())
        clients, raw = script.clients()
        self.raw[session_id] = raw
        return clients


@asynccontextmanager
async def serve(app: FastAPI, port: int = 0, options: Mapping[str, Any] | None = None) -> AsyncIterator[LiveServer]:
    """The app under uvicorn on 127.0.0.1:`port` (0: a free one) in the test's event loop, until the block ends.
    `options` replace the uvicorn.Config keywords whole (e.g. `research-team serve`'s, from uvicorn_options); a
    given port lets a test stop the server and start it again on the same one."""
    if options is None:
        options = {"host": "127.0.0.1", "port": port, "log_config": None, "lifespan": "on", "ws_max_size": 4 << 20}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(app, server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def live_app(app: FastAPI) -> AbstractAsyncContextManager[LiveServer]:
    """`async with live_app(app) as server:` the app on a free port (see `serve`)."""
    return serve(app)


def scripted_app(tmp_path: Path, book: ScriptBook, **settings: Any) -> FastAPI:
    return create_app(
        make_settings(tmp_path, **settings),
        model_clients=book,
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
    )


def openai_app(tmp_path: Path, fake: FakeOpenAI, **settings: Any) -> FastAPI:
    """The app with the real OpenAI clients pointed at the fake OpenAI server `fake`, scripted tools."""
    values = {
        "openai_api_key": "sk-fake-test-key",
        "openai_base_url": fake.base_url,
        "model_max_retries": 1,
        **settings,
    }
    return create_app(
        make_settings(tmp_path, **values),
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
    )


class LiveServer:
    def __init__(self, app: FastAPI, port: int) -> None:
        self.app = app
        self.port = port
        self.http_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    @property
    def services(self) -> Any:
        return self.app.state.services

    async def connect(self, path: str = "/ws/team", **params: Any) -> WsClient:
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        conn = await websockets.connect(self.ws_url + path + (f"?{query}" if query else ""), max_size=None)
        return WsClient(conn)


class WsClient:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.received: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.conn.send(json.dumps(message) if isinstance(message, dict) else message)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        self.received.append(event)
        return event

    async def until(self, predicate: Callable[[dict[str, Any]], object], timeout: float = 10.0) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            while True:
                event = await self.recv(timeout)
                if predicate(event):
                    return event

        return await asyncio.wait_for(scan(), timeout)

    async def until_type(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        return await self.until(lambda e: e["type"] == kind, timeout)

    async def close(self) -> None:
        await self.conn.close()
