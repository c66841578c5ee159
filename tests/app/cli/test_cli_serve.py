"""`research-team serve` enforces the frame limit in uvicorn itself: an oversized frame is refused while it
arrives (close 1009), not buffered up to uvicorn's 16 MiB default; the server keeps serving."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import websockets

from tests.support.cli import cli_env, run, serve_process


async def test_serve_refuses_an_oversized_frame_and_keeps_serving(tmp_path: Path) -> None:
    env = cli_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}", WS_MAX_FRAME_BYTES="65536")
    async with serve_process(env, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            async with websockets.connect(f"{server.ws_url}/ws/team", max_size=None) as big:
                await big.recv()
                await big.send("x" * (1024 * 1024))
                try:
                    while True:
                        await asyncio.wait_for(big.recv(), 5)
                except websockets.ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 1009  # message too big
            async with websockets.connect(f"{server.ws_url}/ws/team") as normal:
                assert '"connected"' in await normal.recv()
            assert (await http.get("/health")).json()["status"] == "ok"


def test_serve_on_a_busy_port_says_so_and_exits_before_ready(tmp_path: Path) -> None:
    """Today uvicorn logged "server ready" (the app's startup) and only then failed to bind."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    env = cli_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    try:
        done = run("serve", "--port", str(port), cwd=tmp_path, env=env)
    finally:
        busy.close()
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"--port {port + 1}" in done.stderr
    assert "server ready" not in done.stderr and "Traceback" not in done.stderr
