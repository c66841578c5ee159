"""The attacks of issue 10 against the real server process (`research-team serve`, real OpenAI clients pointed
at the fake OpenAI server), measured from outside with psutil. Prints figures; bench/README.md keeps them.

    .venv/bin/python -m bench.attack [--idle 200] [--cycles 2000] [--flood-s 10] [--big 30]

- idle: N connected sessions with no run: server RSS per session (the team's model clients built);
- cycles: connect/close with a fresh ?session= id each time, /health timed throughout;
- flood: one client sends tiny bad frames as fast as it can and never reads;
- big: 30 clients each send one 15 MiB frame;
after each, RSS growth, and a normal task (asked on a fresh connection) must still finish with its answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentiles  # noqa: E402
from tests.fakes import FakeOpenAI  # noqa: E402
from tests.support.cli import free_port  # noqa: E402

ANSWER = "Paris is sunny today."


class Server:
    def __init__(self, data: Path, base_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'runs.db'}",
            "OPENAI_API_KEY": "sk-" + "bench-not-a-real-key-000000",
            "OPENAI_BASE_URL": base_url,
            "LOG_LEVEL": "WARNING",
            "CODE_SCRATCH_ROOT": str(data / "scratch"),
            "MAX_SESSIONS": "5000",
            "MAX_SESSIONS_PER_USER": "5000",
        }
        cli = Path(sys.executable).with_name("research-team")
        self.proc = psutil.Popen([str(cli), "serve", "--port", str(self.port)], env=env, cwd=data, stdout=-3, stderr=-3)

    async def ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the server did not start")

    def rss_mb(self) -> float:
        return float(self.proc.memory_info().rss) / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


async def normal_task(server: Server) -> float:
    """Seconds for a normal task on a fresh connection to finish with its answer."""
    started = time.monotonic()
    async with websockets.connect(f"{server.ws}/ws/team", max_size=None) as ws:
        await ws.send(json.dumps({"type": "task", "text": "Weather in Paris?"}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if event["type"] == "run_finished":
                assert ANSWER in event["data"]["final_answer"], event
                return time.monotonic() - started


async def idle_sessions(server: Server, count: int) -> str:
    before = server.rss_mb()
    conns = []
    for _ in range(count):
        ws = await websockets.connect(f"{server.ws}/ws/team")
        await ws.recv()
        await ws.send(json.dumps({"type": "status"}))
        await ws.recv()
        conns.append(ws)
    await asyncio.sleep(1)
    per_session_kb = (server.rss_mb() - before) * 1024 / count
    for ws in conns:
        await ws.close()
    return f"{count} idle connected sessions: {per_session_kb:.0f} KB of server RSS each (real OpenAI clients built)"


async def cycles(server: Server, count: int) -> str:
    before = server.rss_mb()
    health_ms: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        async with httpx.AsyncClient(base_url=server.url) as http:
            while not stop.is_set():
                t = time.perf_counter()
                assert (await http.get("/health")).status_code == 200
                health_ms.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    t0 = time.monotonic()
    for _ in range(count):
        async with websockets.connect(f"{server.ws}/ws/team?session=s_{secrets.token_hex(8)}") as ws:
            await ws.recv()
    elapsed = time.monotonic() - t0
    stop.set()
    await prober
    return (
        f"{count} connect/close cycles with fresh session ids in {elapsed:.1f} s: RSS {before:.0f} -> "
        f"{server.rss_mb():.0f} MB (+{server.rss_mb() - before:.0f}); /health {percentiles(health_ms)}"
    )


async def flood(server: Server, seconds: float) -> str:
    before = server.rss_mb()
    peak = before
    sent = 0
    closed_with = None
    ws = await websockets.connect(f"{server.ws}/ws/team", max_queue=1)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            await ws.send("x")  # not JSON: each frame earns an error reply the client never reads
            sent += 1
            if sent % 500 == 0:
                peak = max(peak, server.rss_mb())
                await asyncio.sleep(0)
    except websockets.ConnectionClosed as closed:
        closed_with = closed.rcvd.code if closed.rcvd else None
    await ws.close()
    task_s = await normal_task(server)
    return (
        f"a non-reading client flooding bad frames for {seconds:g} s ({sent} frames): peak RSS +{peak - before:.0f} MB, "
        f"closed with {closed_with}; a normal task then took {task_s:.2f} s"
    )


async def big_frames(server: Server, clients: int) -> str:
    before = server.rss_mb()
    frame = "x" * (15 * 2**20)
    codes: list[int | None] = []

    async def one() -> None:
        async with websockets.connect(f"{server.ws}/ws/team", max_size=None) as ws:
            await ws.recv()
            try:
                await ws.send(frame)
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                codes.append(closed.rcvd.code if closed.rcvd else None)

    await asyncio.gather(*(one() for _ in range(clients)), return_exceptions=True)
    peak = server.rss_mb()
    task_s = await normal_task(server)
    return (
        f"{clients} clients x one 15 MiB frame: RSS +{peak - before:.0f} MB, closed with {sorted(set(codes), key=lambda c: -1 if c is None else c)}; "
        f"a normal task then took {task_s:.2f} s"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as fake:
        fake.chat.fallback("manager", f"{ANSWER}\nTERMINATE")
        server = Server(Path(tmp), fake.base_url)
        try:
            await server.ready()
            print(f"server RSS at start: {server.rss_mb():.0f} MB")
            print(await idle_sessions(server, args.idle))
            print(await cycles(server, args.cycles))
            print(await flood(server, args.flood_s))
            print(await big_frames(server, args.big))
            print(f"server RSS at the end: {server.rss_mb():.0f} MB")
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--flood-s", type=float, default=10.0)
    parser.add_argument("--big", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
