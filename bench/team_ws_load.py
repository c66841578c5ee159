"""Load on /ws/team: N concurrent sessions, each a scripted Paris-weather run with realistic model delays.

Prints events/s, latency from event creation (envelope timestamp) to client receipt (p50/p99), commits per
event (group commit at work), memory per session, and checks nothing was lost (every seq received, store
complete). Run: .venv/bin/python -m bench.team_ws_load --sessions 100 --model-delay 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import ScriptBook, live_app, scripted_app  # noqa: E402
from tests.scripted import paris_script  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def one_client(server, latencies: list[float]) -> tuple[list[int], str]:  # type: ignore[no-untyped-def]
    client = await server.connect()
    await client.recv()
    await client.send({"type": "task", "text": "What is the weather in Paris?"})
    seqs = []
    while True:
        raw = await asyncio.wait_for(client.conn.recv(), 60)
        received = time.time()
        event = json.loads(raw)
        if event["seq"] is not None:
            seqs.append(event["seq"])
            latencies.append((received - datetime.fromisoformat(event["timestamp"]).timestamp()) * 1000)
        if event["type"] == "system" and event["data"].get("state") == "idle":
            session_id = event["session_id"]
            break
    await client.close()
    return seqs, session_id


async def loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up: the event loop's own queueing delay."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append((time.perf_counter() - t - 0.01) * 1000)


async def main(sessions: int, delay: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        book = ScriptBook(lambda: paris_script(manager_delay=delay, researcher_delay=delay))
        async with live_app(scripted_app(Path(tmp), book)) as server:
            rss_before = rss_mb()
            latencies: list[float] = []
            lag: list[float] = []
            stop = asyncio.Event()
            probe = asyncio.create_task(loop_lag(lag, stop))
            started = time.perf_counter()
            cpu_started = time.process_time()
            results = await asyncio.gather(*(one_client(server, latencies) for _ in range(sessions)))
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            stop.set()
            await probe
            rss_after = rss_mb()
            store = server.services.store
            lost = 0
            for seqs, session_id in results:
                stored = await store.events_after(session_id, 0, limit=10_000)
                if seqs != list(range(1, len(seqs) + 1)) or len(stored) != len(seqs):
                    lost += 1
            events = sum(len(s) for s, _ in results)
            q = statistics.quantiles(latencies, n=100)
            print(f"sessions                 {sessions}  (model delay {delay * 1000:.0f} ms per call, 4 calls per run)")
            print(f"wall time                {elapsed:.2f} s")
            print(f"events delivered         {events}  ({events / elapsed:.0f} events/s)")
            print(f"latency create->receipt  p50 {q[49]:.2f} ms   p99 {q[98]:.2f} ms   max {max(latencies):.2f} ms")
            lq = statistics.quantiles(lag, n=100)
            print(f"event-loop lag           p50 {lq[49]:.2f} ms   p99 {lq[98]:.2f} ms   (CPU {cpu:.2f} s of "
                  f"{elapsed:.2f} s wall: the server and the clients share one loop and one core here)")
            print(f"store commits            {store.commits}  ({events / max(store.commits, 1):.1f} events per commit)")
            print(f"memory                   {rss_after - rss_before:+.1f} MB for {sessions} sessions "
                  f"({(rss_after - rss_before) * 1024 / sessions:.0f} KB per session)")
            print(f"sessions with a lost or unstored event: {lost}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--model-delay", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.model_delay))
