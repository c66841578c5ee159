"""Gateways and workers (app/distributed) under load: 1 worker vs 2 workers side by side in one run, then
400 sessions started together on 2 workers.

Real processes: Debian's redis-server, PostgreSQL (TEST_DATABASE_URL or --database-url; its tables are dropped
first), one `research-team serve` gateway, and workers with scripted team models (bench/scripted_worker.py).
Every session asks the scripted Paris question (4 model calls of --model-delay each); the bench checks that every
client got every seq in order with its own answer and that the store holds exactly those events.
Run: .venv/bin/python -m bench.scale_load [--sessions 200] [--model-delay 0.05] [--burst 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.distributed.bus import connect  # noqa: E402
from app.store.schema import metadata  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from bench.team_ws_load import lost_sessions, one_session  # noqa: E402
from tests.support.cluster import Cluster, RedisServer  # noqa: E402


async def reset_database(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def rss_mb(pids: list[int]) -> float:
    return float(sum(psutil.Process(pid).memory_info().rss for pid in pids)) / 2**20


def cpu_by_part(gateway: int, workers: list[int]) -> dict[str, float]:
    """CPU seconds so far of each part: the gateway, the workers, PostgreSQL (every backend), Redis, and this
    process (the load's clients)."""
    postgres = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")]
    redis = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"]
    return {
        "gateway": cpu_s([gateway]),
        "workers": cpu_s(workers),
        "postgres": cpu_s(postgres),
        "redis": cpu_s(redis),
        "clients": cpu_s([os.getpid()]),
    }


async def one_load(redis_url: str, database_url: str, workers: int, sessions: int, delay: float) -> dict[str, object]:
    await reset_database(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"OPENAI_API_KEY": "sk-bench-not-a-key", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
        cluster = Cluster(redis_url, database_url, Path(tmp), env)
        redis = connect(redis_url)
        await redis.flushall()
        try:
            port = await cluster.add_gateway()
            for _ in range(workers):
                cluster.add_worker([sys.executable, "-m", "bench.scripted_worker", "--model-delay", str(delay)])
            await cluster.wait_workers(redis, workers)
            gateway_pid = cluster.gateways[0][0].proc.pid
            worker_pids = [w.proc.pid for w in cluster.workers]
            rss_before = rss_mb([gateway_pid]), rss_mb(worker_pids)
            cpu_before = cpu_by_part(gateway_pid, worker_pids)
            started = time.perf_counter()
            results = await asyncio.gather(*(one_session(f"ws://127.0.0.1:{port}", 0.0) for _ in range(sessions)))
            elapsed = time.perf_counter() - started
            cpu_after = cpu_by_part(gateway_pid, worker_pids)
            rss_after = rss_mb([gateway_pid]), rss_mb(worker_pids)
        finally:
            cluster.stop()
            await redis.aclose()
    lost = await lost_sessions(database_url, results)
    events = sum(len(r.seqs) for r in results)
    latencies = [ms for r in results for ms in r.latencies_ms]
    return {
        "workers": workers,
        "sessions": sessions,
        "wall_s": elapsed,
        "events": events,
        "events_per_s": events / elapsed,
        "latency": percentiles(latencies),
        "cpu_s": {part: cpu_after[part] - cpu_before[part] for part in cpu_after},
        "worker_kb_per_session": (rss_after[1] - rss_before[1]) * 1024 / sessions,  # hosted until idle
        "gateway_rss_mb": rss_after[0],
        "lost": len(lost),
    }


def show(result: dict[str, object]) -> None:
    print(
        f"  {result['workers']} worker(s), {result['sessions']} sessions: {result['events']} events in "
        f"{result['wall_s']:.2f} s = {result['events_per_s']:.0f} events/s; create->receipt {result['latency']}; "
        f"lost {result['lost']}"
    )
    cpu = result["cpu_s"]
    assert isinstance(cpu, dict)
    busy = sum(cpu.values())
    parts = ", ".join(f"{part} {seconds:.1f}" for part, seconds in cpu.items())
    per_run = float(cpu["workers"] + cpu["gateway"]) * 1000 / int(result["sessions"])  # type: ignore[call-overload]
    print(
        f"    CPU s: {parts} = {busy:.1f} s in {result['wall_s']:.1f} s wall ({busy / float(result['wall_s']):.2f} "  # type: ignore[arg-type]
        f"of {os.cpu_count()} cores busy); gateway + workers {per_run:.1f} ms per run"
    )
    print(
        f"    memory: workers +{result['worker_kb_per_session']:.0f} KB per hosted session; gateway RSS "
        f"{result['gateway_rss_mb']:.0f} MB"
    )


async def main(database_url: str, sessions: int, delay: float, burst: int) -> None:
    print(f"machine: {os.cpu_count()} cores; model delay {delay * 1000:.0f} ms per call, 4 calls per run")
    with RedisServer() as redis_server:
        print("throughput, all sessions started together:")
        one = await one_load(redis_server.url, database_url, 1, sessions, delay)
        show(one)
        two = await one_load(redis_server.url, database_url, 2, sessions, delay)
        show(two)
        print(f"  2 workers / 1 worker: {float(two['events_per_s']) / float(one['events_per_s']):.2f}x events/s")  # type: ignore[arg-type]
        print(f"{burst} sessions started together on 2 workers:")
        show(await one_load(redis_server.url, database_url, 2, burst, delay))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--model-delay", type=float, default=0.05)
    parser.add_argument("--burst", type=int, default=400)
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("needs a PostgreSQL URL: --database-url or TEST_DATABASE_URL")
    asyncio.run(main(args.database_url, args.sessions, args.model_delay, args.burst))
