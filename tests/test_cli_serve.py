"""`research-team serve` enforces the frame limit in uvicorn itself: an oversized frame is refused while it
arrives (close 1009), not buffered up to uvicorn's 16 MiB default; the server keeps serving."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import websockets

from tests.support.cluster import free_port


async def test_serve_refuses_an_oversized_frame_and_keeps_serving(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}", "WS_MAX_FRAME_BYTES": "65536"}
    cli = Path(sys.executable).with_name("research-team")
    proc = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/team", max_size=None) as big:
                await big.recv()
                await big.send("x" * (1024 * 1024))
                try:
                    while True:
                        await asyncio.wait_for(big.recv(), 5)
                except websockets.ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 1009  # message too big
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/team") as normal:
                assert '"connected"' in await normal.recv()
            assert (await http.get("/health")).json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_serve_on_a_busy_port_says_so_and_exits_before_ready(tmp_path: Path) -> None:
    """Today uvicorn logged "server ready" (the app's startup) and only then failed to bind."""
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}"}
    cli = Path(sys.executable).with_name("research-team")
    try:
        done = subprocess.run(
            [str(cli), "serve", "--port", str(port)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    finally:
        busy.close()
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"--port {port + 1}" in done.stderr
    assert "server ready" not in done.stderr and "Traceback" not in done.stderr
