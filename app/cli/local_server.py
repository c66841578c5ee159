"""The app started inside a CLI command (`ask` and `eval` without a server): create_app with the Settings from
the environment and .env, under uvicorn with `serve`'s options, on a free loopback port. The team, its tools
and its store are the ones `serve` would use; only the port is private to the command."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.core.logging_setup import configure_logging
from app.core.redaction import Redactor
from app.core.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8000"  # where `research-team serve` listens by default


class ServerDidNotStart(Exception):
    pass


def uvicorn_options(settings: Settings, *, host: str, port: int) -> dict[str, Any]:
    """How `serve` runs uvicorn (tests run the app with exactly these)."""
    return {
        "host": host,
        "port": port,
        "ws_max_size": settings.ws_max_frame_bytes,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "h11_max_incomplete_event_size": 64 * 1024,
        "timeout_graceful_shutdown": 10,
        "log_config": None,
        "server_header": False,
        "proxy_headers": False,  # forwarded headers are the app's to judge, from TRUSTED_PROXIES only
    }


@contextlib.asynccontextmanager
async def local_server(settings: Settings) -> AsyncIterator[str]:
    """The base URL of the app, running in this process until the block ends."""
    import uvicorn

    from app.main import create_app

    app = create_app(settings, configure_logs=False)
    config = uvicorn.Config(app, **{**uvicorn_options(settings, host="127.0.0.1", port=0), "log_level": "warning"})
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise ServerDidNotStart("The team's server did not start.")
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


def command_logs(settings: Settings) -> None:
    """Logs of an in-process team under a command (`ask`, `runs`): warnings and errors only, readable on a
    terminal, secrets masked; AutoGen's tracebacks of a failed model call left out (the run's error says it)."""
    configure_logging("WARNING", json_lines=settings.log_json, redactor=Redactor(settings.secret_values()))
    for name in ("autogen_core", "autogen_agentchat"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


async def default_server_running(url: str = DEFAULT_URL) -> bool:
    """True when a research-team server answers /health at `url` (a quick look, for `ask` without --url)."""
    try:
        async with httpx.AsyncClient(timeout=0.5) as http:
            response = await http.get(url + "/health")
        return response.status_code == 200 and "model_access" in response.json()
    except (httpx.HTTPError, ValueError):
        return False
