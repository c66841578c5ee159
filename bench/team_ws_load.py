"""Load on /ws/team: N concurrent sessions, each a scripted Paris-weather run with realistic model delays.

The server runs in its own process (bench/scripted_server.py), the N clients in this one, so the figures show
what the server costs. Prints events/s, latency from event creation (envelope timestamp) to client receipt
(p50/p99), the server's CPU time and memory per session, and checks nothing was lost: every client got every
seq 1..n in order with its own answer, and the run store holds exactly those events and a completed run.
Run: .venv/bin/python -m bench.team_ws_load --sessions 100 --model-delay 1.0 [--ramp 2]
--ramp 0 (default) starts all sessions in the same instant: the worst case, every model call returns together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.store.run_store import RunStore  # noqa: E402
from bench.server_process import ServerProcess  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from tests.support.scripted import PARIS_ANSWER  # noqa: E402


@dataclass
class SessionResult:
    session_id: str = ""
    run_id: str = ""
    answer: str = ""
    seqs: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)


async def one_session(ws_url: str, start_after: float) -> SessionResult:
    result = SessionResult()
    await asyncio.sleep(start_after)
    async with websockets.connect(ws_url + "/ws/team", max_size=None) as conn:
        await asyncio.wait_for(conn.recv(), 30)  # the hello
        await conn.send(json.dumps({"type": "task", "text": "What is the weather in Paris?"}))
        while True:
            event = json.loads(await asyncio.wait_for(conn.recv(), 120))
            received = time.time()
            if event["seq"] is None:
                continue
            result.seqs.append(event["seq"])
            result.latencies_ms.append((received - datetime.fromisoformat(event["timestamp"]).timestamp()) * 1000)
            result.session_id = event["session_id"]
            if event["type"] == "run_finished":
                result.run_id, result.answer = event["run_id"], event["data"].get("final_answer") or ""
            if event["type"] == "system" and event["data"].get("state") == "idle":
                return result


async def lost_sessions(database_url: str, results: list[SessionResult]) -> list[str]:
    """Sessions whose client missed a seq, got someone else's answer, or whose store differs from what was sent."""
    store = RunStore(database_url)
    await store.start()
    lost = []
    try:
        for r in results:
            stored = await store.events_after(r.session_id, 0, limit=10_000)
            run = await store.get_run(r.run_id, owner=None)
            if (
                r.seqs != list(range(1, len(r.seqs) + 1))
                or [seq for seq, _ in stored] != r.seqs
                or not r.answer.startswith(PARIS_ANSWER)
                or run is None
                or run["status"] != "completed"
            ):
                lost.append(r.session_id)
    finally:
        await store.stop()
    return lost


async def main(sessions: int, delay: float, ramp: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with ServerProcess(Path(tmp), model_delay=delay) as server:
            idle = server.usage()
            started = time.perf_counter()
            results = await asyncio.gather(*(one_session(server.ws_url, ramp * i / sessions) for i in range(sessions)))
            elapsed = time.perf_counter() - started
            busy = server.usage()
        lost = await lost_sessions(server.database_url, results)
    events = sum(len(r.seqs) for r in results)
    latencies = [ms for r in results for ms in r.latencies_ms]
    cpu = busy.cpu_s - idle.cpu_s
    print(
        f"sessions                 {sessions}  (model delay {delay * 1000:.0f} ms per call, 4 calls per run; "
        f"starts spread over {ramp:.1f} s; server in its own process)"
    )
    print(f"wall time                {elapsed:.2f} s")
    print(f"events delivered         {events}  ({events / elapsed:.0f} events/s)")
    print(f"latency create->receipt  {percentiles(latencies)}")
    print(
        f"server CPU               {cpu:.2f} s for {sessions} runs ({cpu * 1000 / sessions:.1f} ms per run, "
        f"{cpu * 1e6 / max(events, 1):.0f} us per event)"
    )
    print(
        f"server memory            {busy.rss_mb:.0f} MB RSS, {busy.rss_mb - idle.rss_mb:+.1f} MB for {sessions} "
        f"sessions ({(busy.rss_mb - idle.rss_mb) * 1024 / sessions:.0f} KB per session)"
    )
    print(f"sessions with a lost, foreign or unstored event: {len(lost)}")
    if lost:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--model-delay", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--ramp", type=float, default=0.0, help="spread the session starts over this many seconds")
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.model_delay, args.ramp))
