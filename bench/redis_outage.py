"""An idle cluster through a 30 s Redis outage (issue #29): does anything spin, what do the logs and /health say.

Real processes: Debian's redis-server (no persistence), PostgreSQL (TEST_DATABASE_URL or --database-url; its
tables are dropped first), one `research-team serve` gateway and one worker with scripted models
(bench/scripted_worker.py), both idle. Measured: the worker's and the gateway's CPU over --baseline seconds with
Redis up, then over --outage seconds with Redis SIGKILLed; /health during the outage; the log lines each process
wrote during the outage; after Redis comes back (empty, same port), how long until the worker is registered again.
The figures of 20 runs through a restart are tests/app/distributed/test_redis_restart.py's (it prints them).
Run: .venv/bin/python -m bench.redis_outage [--outage 30] [--baseline 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.distributed.bus import connect  # noqa: E402
from bench.scale_load import cpu_s, reset_database  # noqa: E402
from tests.support.cluster import Cluster, RedisServer  # noqa: E402


class Restartable(RedisServer):
    def kill(self) -> None:
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(10)


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def main(database_url: str, outage_s: float, baseline_s: float) -> None:
    await reset_database(database_url)
    with tempfile.TemporaryDirectory() as tmp, Restartable() as redis_server:
        env = {"OPENAI_API_KEY": "sk-bench-not-a-key", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
        cluster = Cluster(redis_server.url, database_url, Path(tmp), env)
        try:
            port = await cluster.add_gateway()
            worker = cluster.add_worker([sys.executable, "-m", "bench.scripted_worker", "--model-delay", "0.05"])
            redis: Any = connect(redis_server.url)
            await cluster.wait_workers(redis, 1)
            await redis.aclose()
            gateway = cluster.gateways[0][0].proc.pid
            await asyncio.sleep(2)
            before = cpu_s([worker.proc.pid]), cpu_s([gateway])
            await asyncio.sleep(baseline_s)
            idle = cpu_s([worker.proc.pid]) - before[0], cpu_s([gateway]) - before[1]
            logs = {p.name: lines(p) for p in Path(tmp).glob("*.log")}
            redis_server.kill()
            await asyncio.sleep(1)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                health = (await http.get("/health")).json()
            before = cpu_s([worker.proc.pid]), cpu_s([gateway])
            await asyncio.sleep(outage_s)
            down = cpu_s([worker.proc.pid]) - before[0], cpu_s([gateway]) - before[1]
            written = {p.name: lines(p) - logs.get(p.name, 0) for p in Path(tmp).glob("*.log")}
            redis_server.__enter__()  # empty, on the same port
            back = time.monotonic()
            redis = connect(redis_server.url)
            while not await redis.hlen("rt:workers"):
                await asyncio.sleep(0.05)
            registered = time.monotonic() - back
            await redis.aclose()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(100):
                    after = (await http.get("/health")).json()
                    if after["status"] == "ok":
                        break
                    await asyncio.sleep(0.1)
            print(
                f"idle, Redis up ({baseline_s:.0f} s): worker {100 * idle[0] / baseline_s:.2f} % CPU, "
                f"gateway {100 * idle[1] / baseline_s:.2f} %"
            )
            print(
                f"idle, Redis down ({outage_s:.0f} s): worker {100 * down[0] / outage_s:.2f} % CPU, "
                f"gateway {100 * down[1] / outage_s:.2f} %"
            )
            print(f"log lines written during the outage: {written}")
            print(
                f"/health during the outage: status {health['status']}, workers {health.get('workers')}, "
                f"redis {health.get('redis')}"
            )
            print(f"worker registered again {registered:.2f} s after Redis came back; /health then: {after['status']}")
        finally:
            cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--baseline", type=float, default=10.0)
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("Set TEST_DATABASE_URL (or --database-url) to a PostgreSQL database the bench may wipe.")
    asyncio.run(main(args.database_url, args.outage, args.baseline))
