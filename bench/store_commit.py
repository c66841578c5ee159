"""CPU of the run store's writes alone, on a SQLite file, with the event loop kept busy as under load.

bench/team_ws_load.py measures the whole server, whose CPU on this shared machine moves by ±15 % between runs;
this isolates what the store costs an event: 10 sessions publish events (a 500-character TextMessage every
2 ms each) through SessionEventLog while a task keeps the loop busy with plain Python in 0.5 ms slices. The
busy task's own CPU, measured alone first, is subtracted.
Run: .venv/bin/python -m bench.store_commit [--events 1500] [--busy 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.events import TeamMessage  # noqa: E402
from app.core.redaction import Redactor  # noqa: E402
from app.store.event_log import SessionEventLog  # noqa: E402
from app.store.run_store import RunStore  # noqa: E402

SESSIONS = 10


async def busy_loop(stop: asyncio.Event, share: float) -> None:
    """Plain Python in 0.5 ms slices, sleeping between them so that it takes `share` of the loop."""
    total = 0
    while not stop.is_set():
        started = time.perf_counter()
        while time.perf_counter() - started < 0.0005:
            total += sum(range(50))
        await asyncio.sleep(0.0005 * (1 - share) / share)


async def publish(log: SessionEventLog, count: int) -> None:
    for n in range(count):
        await log.publish(TeamMessage(type="TextMessage", data={"content": "x" * 500, "n": n}), None)
        await asyncio.sleep(0.002)


async def main(events: int, share: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(f"sqlite+aiosqlite:///{Path(tmp) / 'runs.db'}")
        await store.start()
        stop = asyncio.Event()
        busy = asyncio.create_task(busy_loop(stop, share))
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(1.0)
        busy_rate = (time.process_time() - cpu) / (time.perf_counter() - wall)  # CPU s per s of the busy task
        logs = [SessionEventLog(f"s_bench_{i:04d}", store, Redactor()) for i in range(SESSIONS)]
        commits = store.commits
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(publish(log, events // SESSIONS) for log in logs))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        stop.set()
        await busy
        commits = store.commits - commits
        await store.stop()
    stored = cpu - busy_rate * wall
    print(f"events {events} from {SESSIONS} sessions, {commits} commits, loop busy {share:.0%} with other work")
    print(f"store CPU  {stored * 1e6 / events:.0f} us per event, {stored * 1e3 / max(commits, 1):.2f} ms per commit")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--busy", type=float, default=0.5, help="share of the event loop taken by other work")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.busy))
