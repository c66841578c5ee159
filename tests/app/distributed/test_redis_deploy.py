"""Deploying on Redis safely (issue 22): Redis with a password, CLUSTER_SECRET, gateways that deliver only what
their workers signed.

- a REDIS_URL with the password reaches a `redis-server --requirepass` (a real worker process registers);
  a wrong or missing password stops a worker and a gateway at once with a clear message, never the password;
- a missing or short CLUSTER_SECRET stops them with a clear message; `serve --workers N` makes one for its own;
- a `rediss://` URL (TLS, a private CA) reaches a TLS-only redis-server;
- a gateway drops replies and events that are unsigned, forged or signed for another channel (counted).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.session.team_session import SessionCommandError
from app.cli.main import _cluster_ready
from app.core.settings import Settings
from app.distributed.bus import (
    PLACEMENT_STREAM,
    Command,
    EventNote,
    RedisUnreachable,
    Reply,
    connect,
    events_channel,
    open_redis,
    reply_channel,
)
from app.distributed.gateway.bus import GatewayBus
from app.distributed.signing import BusSigner
from tests.support.cli import cli_env, free_port, run
from tests.support.cluster import CLUSTER_SECRET, RedisServer
from tests.support.paths import CLI

PASSWORD = "pw-" + "7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e"
SIGNER = BusSigner(CLUSTER_SECRET)


@pytest.fixture
def locked_redis() -> Iterator[RedisServer]:
    with RedisServer(password=PASSWORD) as server:
        yield server


def with_password(server: RedisServer, password: str | None) -> str:
    auth = f":{password}@" if password else ""
    return f"redis://{auth}127.0.0.1:{server.port}/0"


def process_env(tmp_path: Path, **values: str) -> dict[str, str]:
    prefixes = ("APP_", "OPENAI_", "REDIS_", "DATABASE_", "CLUSTER_")
    return cli_env(prefixes, **{"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}", **values})


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=tmp_path, env=process_env(tmp_path, **env))


async def test_a_url_with_the_password_reaches_a_locked_redis(locked_redis: RedisServer, tmp_path: Path) -> None:
    client = await open_redis(locked_redis.url)
    worker = subprocess.Popen(
        [CLI, "worker"],
        env=process_env(tmp_path, REDIS_URL=locked_redis.url, CLUSTER_SECRET=CLUSTER_SECRET, LOG_LEVEL="WARNING"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):  # registered by its heartbeat thread, on its own connection: the URL worked twice
            if await client.hlen("rt:workers") == 1 or worker.poll() is not None:  # type: ignore[misc]
                break
            await asyncio.sleep(0.1)
        assert await client.hlen("rt:workers") == 1, worker.stderr.read() if worker.stderr else ""  # type: ignore[misc]
    finally:
        worker.terminate()
        worker.wait(20)
        await client.aclose()


@pytest.mark.parametrize("password", ["wrong-" + "0" * 20, None])
async def test_a_wrong_or_missing_password_fails_clearly(
    locked_redis: RedisServer, tmp_path: Path, password: str | None
) -> None:
    url = with_password(locked_redis, password)
    with pytest.raises(RedisUnreachable) as refused:
        await open_redis(url)
    assert "refused us" in str(refused.value) and "REDIS_URL" in str(refused.value)
    for args in (("worker",), ("serve", "--port", "9")):
        started = time.monotonic()
        done = run_cli(tmp_path, *args, REDIS_URL=url, CLUSTER_SECRET=CLUSTER_SECRET)
        assert done.returncode != 0 and time.monotonic() - started < 30, args
        assert "refused us" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
        if password:
            assert password not in done.stderr and password not in done.stdout


@pytest.mark.parametrize(
    ("secret", "said"), [(None, "CLUSTER_SECRET is not set"), ("short-secret", "CLUSTER_SECRET is too short")]
)
def test_a_missing_or_short_cluster_secret_stops_gateways_and_workers(
    locked_redis: RedisServer, tmp_path: Path, secret: str | None, said: str
) -> None:
    extra = {"CLUSTER_SECRET": secret} if secret else {}
    for args in (("worker",), ("serve", "--port", "9")):
        done = run_cli(tmp_path, *args, REDIS_URL=locked_redis.url, **extra)
        assert done.returncode != 0 and said in done.stderr, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr


def test_serve_with_workers_makes_a_secret_for_its_own(
    locked_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("CLUSTER_SECRET", "")  # unset (empty is ignored), and restored after the test
    monkeypatch.setenv("REDIS_URL", locked_redis.url)
    settings = _cluster_ready(Settings(), workers=2)
    made = os.environ["CLUSTER_SECRET"]  # what its children and the gateway's own app read
    assert len(made) == 64 and settings.cluster_secret_value() == made
    assert made in settings.secret_values() and PASSWORD in settings.secret_values(), "both scrubbed from logs"


class Feed:
    def __init__(self) -> None:
        self.got: list[tuple[int, str]] = []

    def receive(self, seq: int, text: str) -> None:
        self.got.append((seq, text))

    def catch_up(self) -> None:
        """Nothing to catch up in this test."""


async def test_a_gateway_delivers_only_what_its_workers_signed(locked_redis: RedisServer) -> None:
    redis = connect(locked_redis.url)
    bus = GatewayBus(redis, "gw-1", SIGNER, command_timeout_s=1.0)
    await bus.start()
    feed, session = Feed(), "s_feed_000000001"
    await bus.subscribe(session, feed)
    channel = events_channel(session)
    note = EventNote(seq=1, text='{"type": "run_finished", "data": {"final_answer": "send money to mallory"}}')
    forged = [
        note.model_dump_json(),  # unsigned, as every event was before
        "0" * 64 + note.model_dump_json(),
        BusSigner("another-cluster-" + "y" * 32).seal("event", channel, note.model_dump_json()),
        SIGNER.seal("event", events_channel("s_other_00000001"), note.model_dump_json()),  # another session's
        SIGNER.seal("reply", channel, note.model_dump_json()),  # a reply is not an event
    ]
    for data in forged:
        await redis.publish(channel, data)
    await redis.publish(channel, SIGNER.seal("event", channel, EventNote(seq=1, text="real").model_dump_json()))
    for _ in range(100):
        if feed.got:
            break
        await asyncio.sleep(0.02)
    assert feed.got == [(1, "real")] and bus.refused == len(forged)

    async def forge_a_reply() -> None:  # whoever reads the command off placement answers it, unsigned
        while not (entries := await redis.xrange(PLACEMENT_STREAM)):
            await asyncio.sleep(0.01)
        command = Command.model_validate_json(entries[-1][1]["c"])
        fake = Reply(id=command.id, ok=True, result={"status": "started", "run_id": "run_fake"})
        await redis.publish(reply_channel("gw-1"), fake.model_dump_json())

    forging = asyncio.create_task(forge_a_reply())
    with pytest.raises(SessionCommandError):  # no worker: it times out rather than believe the forger
        await bus.command(Command(session_id=session, owner="alice", action="task", text="hi", reply_to=""))
    await forging
    assert bus.refused == len(forged) + 1
    await bus.stop()
    await redis.aclose()


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """redis-server on TLS only (a throwaway CA and certificate for 127.0.0.1), with a password."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
    )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"
    )
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    )
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            "server.crt",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.crt",
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={tmp_path / 'ca.crt'}", port
    finally:
        server.terminate()
        server.wait(10)


async def test_a_rediss_url_reaches_redis_over_tls(tls_redis: tuple[str, int], tmp_path: Path) -> None:
    url, port = tls_redis
    client = await open_redis(url)
    worker = subprocess.Popen(
        [CLI, "worker"],
        env=process_env(tmp_path, REDIS_URL=url, CLUSTER_SECRET=CLUSTER_SECRET, LOG_LEVEL="WARNING"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:  # its async client and its heartbeat thread's blocking one both speak TLS
        for _ in range(300):
            if await client.hlen("rt:workers") == 1 or worker.poll() is not None:  # type: ignore[misc]
                break
            await asyncio.sleep(0.1)
        assert await client.hlen("rt:workers") == 1  # type: ignore[misc]
    finally:
        worker.terminate()
        worker.wait(20)
        await client.aclose()
    with pytest.raises(RedisUnreachable):  # plain text to a TLS port: refused, said plainly
        await open_redis(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
