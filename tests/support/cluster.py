"""A real distributed deployment for tests and benchmarks: Debian's redis-server, PostgreSQL, gateway and worker
processes (`research-team serve` / `research-team worker`), each killable with SIGKILL.

The team's models are the fake OpenAI (tests/fakes) answering from the conversation alone (`research_script`),
so a run resumed on another worker goes on exactly as it would have on the first. A Client converses over
/ws/team and check_complete holds what it received to what the store kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.redaction import Redactor
from app.core.settings import Settings
from app.distributed.bus import connect
from app.distributed.signing import BusSigner
from app.distributed.worker.worker import Worker
from app.sessions.team_wiring import TeamWiring
from app.store.run_store import RunStore
from tests.support.cli import ServeProcess, free_port
from tests.support.live_server import ScriptBook
from tests.support.paths import CLI, ROOT
from tests.support.scripted import developer_tools, paris_script, research_tools

QUESTION = re.compile(r"Q\[(\d+)\]")

CLUSTER_SECRET = secrets.token_hex(32)  # what every test gateway and worker shares (app/distributed/signing.py)


class RedisServer:
    """`redis-server` on a free port, no persistence, gone at exit; with `password`, it needs that password."""

    def __init__(self, password: str | None = None) -> None:
        self.port = free_port()
        self.password = password
        self._dir = tempfile.mkdtemp(prefix="redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def __enter__(self) -> Self:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self._proc = subprocess.Popen([*args, "--dir", self._dir], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
        shutil.rmtree(self._dir, ignore_errors=True)


class Role:
    """One process of the deployment (`research-team serve`, `research-team worker`, a benchmark's worker)."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(list(command), env=dict(env), cwd=ROOT, stdout=self._log, stderr=self._log)

    def kill(self) -> None:
        """SIGKILL: dies mid-whatever, as in a crash or an OOM kill."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class Cluster:
    """Gateways and workers sharing one Redis and one PostgreSQL database."""

    def __init__(self, redis_url: str, database_url: str, log_dir: Path, extra_env: Mapping[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "OPENAI_", "REDIS_", "DATABASE_"))}
        self.env = {
            **base,
            "REDIS_URL": redis_url,
            "CLUSTER_SECRET": CLUSTER_SECRET,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "LEASE_TTL_S": "3",
            "WS_RATE_PER_S": "1000",
            "WS_RATE_BURST": "1000",
            **extra_env,
        }
        self.log_dir = log_dir
        self.gateways: list[tuple[Role, int]] = []
        self.workers: list[Role] = []

    async def add_gateway(self) -> int:
        port = free_port()
        role = Role([CLI, "serve", "--port", str(port)], self.env, self.log_dir / f"gateway-{port}.log")
        self.gateways.append((role, port))
        try:
            await ServeProcess(role.proc, port).healthy(tries=300)
        except AssertionError as failed:
            raise RuntimeError(f"gateway did not start ({failed}): " + self.logs()) from None
        return port

    def add_worker(self, command: Sequence[str] = (CLI, "worker"), **env: str) -> Role:
        role = Role(command, {**self.env, **env}, self.log_dir / f"worker-{len(self.workers)}.log")
        self.workers.append(role)
        return role

    async def wait_workers(self, redis: Any, count: int) -> None:
        for _ in range(300):
            if await redis.hlen("rt:workers") >= count:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("workers did not start: " + self.logs())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for role, _ in self.gateways:
            role.stop()
        for role in self.workers:
            role.stop()


@asynccontextmanager
async def scripted_worker(
    worker_id: str, redis_url: str, store: RunStore, settings: Settings, *, lease_ttl_s: float
) -> AsyncIterator[Worker]:
    """A Worker in this process on `redis_url` and `store`, signing with CLUSTER_SECRET, whose team is scripted
    (every session answers "Paris" twice: tests/support/scripted.py); stopped on the way out."""
    wiring = TeamWiring(
        settings,
        research_tools(),
        developer_tools,
        model_clients=ScriptBook(lambda: paris_script(runs=2)),
        checkpoints=True,
    )
    redis = connect(redis_url)
    node = Worker(
        worker_id,
        redis,
        redis_url,
        store,
        Redactor([]),
        wiring.build_session,
        lease_ttl_s=lease_ttl_s,
        idle_s=60,
        max_sessions=10,
        signer=BusSigner(CLUSTER_SECRET),
        run_budget=settings.run_budget,
    )
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        await wiring.close()
        await redis.aclose()


def research_script(chat: Any, *, delay_s: float, steps: int = 2) -> None:
    """Manager and Researcher answering from the conversation alone: the Manager hands the question to the
    Researcher `steps` times, then answers "ANSWER Q[n] ..." naming the question's number."""
    from tests.fakes import Dynamic

    def everything(body: dict[str, Any]) -> str:
        return "\n".join(str(m.get("content") or "") for m in body.get("messages", []))

    async def manager(body: dict[str, Any]) -> str:
        await asyncio.sleep(delay_s)
        text = everything(body)
        number = QUESTION.findall(text)[0] if QUESTION.search(text) else "?"
        done = text.count("FOUND step")
        if done >= steps:
            return f"ANSWER Q[{number}] after {done} steps.\nTERMINATE"
        return f"TASK: step {done + 1} of Q[{number}].\nNEXT AGENT: Researcher"

    async def researcher(body: dict[str, Any]) -> str:
        await asyncio.sleep(delay_s)
        return f"FOUND step {everything(body).count('FOUND step') + 1}."

    chat.fallback("manager", Dynamic(manager))
    chat.fallback("researcher", Dynamic(researcher))
    chat.fallback("selector", "Researcher")


# ---- what a test reads back from a cluster ---------------------------------------------------------------
DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
NEEDS_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DATABASE_URL, reason="TEST_DATABASE_URL is not set (CI sets it with PostgreSQL)"),
    pytest.mark.timeout(240),
]
"""The marks of a test module whose cluster stores on PostgreSQL (tests/app/distributed/conftest.py)."""


@dataclass
class Client:
    """One /ws/team conversation: what it received, by seq."""

    number: int
    session_id: str = ""
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)

    def take(self, event: dict[str, Any]) -> None:
        if event.get("seq") is None:
            return
        self.order.append(event["seq"])
        self.events[event["seq"]] = event

    @property
    def finished(self) -> dict[str, Any] | None:
        return next((e for e in self.events.values() if e["type"] == "run_finished"), None)

    def types(self) -> list[str]:
        return [self.events[s]["type"] for s in sorted(self.events)]


async def converse(port: int, client: Client, *, after: int | None = None, until_finished: bool = True) -> None:
    """Ask Q[n] (when not reconnecting) and read until the run finished and the session is idle again."""
    query = f"?session={client.session_id}&after={after}" if after is not None else ""
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/team{query}", max_size=None) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
        client.session_id = hello["session_id"]
        if after is None:
            await ws.send(json.dumps({"type": "task", "text": f"Q[{client.number}] what is the answer?"}))
        while until_finished:
            event = json.loads(await asyncio.wait_for(ws.recv(), 60))
            client.take(event)
            state = event.get("data", {}).get("state") if event.get("type") == "system" else None
            if client.finished is not None and state == "idle":
                return


async def stored_seqs(session_id: str) -> list[int]:
    assert DATABASE_URL is not None
    engine = create_async_engine(DATABASE_URL)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT seq FROM events WHERE session_id = :s ORDER BY seq"), {"s": session_id})
        seqs = [int(r[0]) for r in rows]
    await engine.dispose()
    return seqs


def check_complete(client: Client, stored: list[int]) -> None:
    """Every seq from 1 to the last, each once, in order, and exactly what the store holds."""
    assert client.order == sorted(client.order), f"Q[{client.number}]: out of order"
    assert len(client.order) == len(set(client.order)), f"Q[{client.number}]: duplicates"
    assert client.order == list(range(1, len(client.order) + 1)), f"Q[{client.number}]: gap {client.order}"
    assert stored == client.order, f"Q[{client.number}]: the store holds {stored}"
    finished = client.finished
    assert finished is not None and finished["data"]["stop_reason"] == "completed"
    assert finished["data"]["final_answer"].startswith(f"ANSWER Q[{client.number}]"), finished["data"]


def metric(exposition: str, name: str) -> float:
    line = next((line for line in exposition.splitlines() if line.startswith(name + " ")), None)
    return float(line.split()[-1]) if line else 0.0


@asynccontextmanager
async def cluster_on(redis_url: str, database_url: str, tmp_path: Path, fake: Any) -> AsyncIterator[Cluster]:
    """Gateways and workers on this Redis and database, stopped after the test (their logs printed)."""
    running = Cluster(redis_url, database_url, tmp_path, fake.env())
    try:
        yield running
    finally:
        running.stop()
        print(running.logs())  # pytest shows it when the test failed
