"""docker-compose.yml keeps Redis, PostgreSQL and the workers private (issue 22). There is no Docker engine
here: the file is read as compose reads it, and the Redis service's own shell command is run with Debian's
redis-server (the image's entrypoint replaced by a shim that adds a free port)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.distributed.bus import RedisUnreachable, open_redis
from tests.support.cli import free_port
from tests.support.paths import ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PRIVATE = ("redis", "postgres", "worker", "sandbox")


def networks(service: str) -> set[str]:
    found = SERVICES[service].get("networks", ["default"])
    return set(found if isinstance(found, list) else found.keys())


def internal(network: str) -> bool:
    return bool((COMPOSE.get("networks", {}).get(network) or {}).get("internal"))


@pytest.mark.parametrize("service", PRIVATE)
def test_redis_postgres_and_workers_are_never_published(service: str) -> None:
    assert "ports" not in SERVICES[service], f"{service} publishes a port"
    assert SERVICES[service].get("network_mode") != "host"


def test_only_the_app_and_the_gateway_publish_and_on_loopback_by_default() -> None:
    published = {name for name, service in SERVICES.items() if "ports" in service}
    assert published == {"app", "gateway"}
    for name in published:
        for port in SERVICES[name]["ports"]:
            assert str(port).startswith("${APP_BIND:-127.0.0.1}:"), port


@pytest.mark.parametrize("service", ["redis", "postgres"])
def test_redis_and_postgres_are_on_internal_networks_only(service: str) -> None:
    assert networks(service) and all(internal(n) for n in networks(service)), networks(service)


def test_redis_needs_a_password_and_everyone_uses_it_and_the_cluster_secret() -> None:
    redis = SERVICES["redis"]
    script = " ".join(redis["command"])
    assert "--requirepass" in script and "$$REDIS_PASSWORD" in script
    assert "--requirepass" not in str(redis.get("healthcheck")), "the healthcheck authenticates by REDISCLI_AUTH"
    for name in ("gateway", "worker"):
        env = SERVICES[name]["environment"]
        assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:-\}@redis:6379/0", env["REDIS_URL"]), env["REDIS_URL"]
        assert env["CLUSTER_SECRET"] == "${CLUSTER_SECRET:-}"
        assert networks(name) >= {"backend"}


def compose_value(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, as far as this file uses it: ${VAR:-default}, and $$ for a literal $."""
    text = re.sub(r"(?<!\$)\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), text)
    return text.replace("$$", "$")


@pytest.fixture
def entrypoint_shim(tmp_path: Path) -> tuple[Path, int]:
    """`docker-entrypoint.sh` on PATH: runs its arguments on a free port of 127.0.0.1, without persistence."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed")
    port = free_port()
    shim = tmp_path / "docker-entrypoint.sh"
    shim.write_text(f'#!/bin/sh\nexec "$@" --port {port} --bind 127.0.0.1 --dir {tmp_path}\n')
    shim.chmod(0o755)
    return tmp_path, port


def redis_service_env(shim_dir: Path, password: str) -> dict[str, str]:
    values = {"REDIS_PASSWORD": password}
    env = {k: compose_value(str(v), values) for k, v in SERVICES["redis"]["environment"].items()}
    return {"PATH": f"{shim_dir}:{os.environ['PATH']}", **env}


def test_the_redis_service_refuses_to_start_without_a_long_password(entrypoint_shim: tuple[Path, int]) -> None:
    shim_dir, _port = entrypoint_shim
    command = [compose_value(part, {}) for part in SERVICES["redis"]["command"]]
    for password in ("", "short"):
        done = subprocess.run(command, env=redis_service_env(shim_dir, password), capture_output=True, text=True)
        assert done.returncode != 0 and "REDIS_PASSWORD is missing or short" in done.stderr


async def test_the_redis_service_runs_with_its_password_and_its_healthcheck_passes(
    entrypoint_shim: tuple[Path, int],
) -> None:
    shim_dir, port = entrypoint_shim
    password = "compose-" + "5" * 24
    env = redis_service_env(shim_dir, password)
    command = [compose_value(part, {}) for part in SERVICES["redis"]["command"]]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        client = await open_redis(f"redis://:{password}@127.0.0.1:{port}/0")
        await client.aclose()
        with pytest.raises(RedisUnreachable):
            await open_redis(f"redis://127.0.0.1:{port}/0")
        check = SERVICES["redis"]["healthcheck"]["test"]
        assert check[0] == "CMD-SHELL"
        probe = compose_value(check[1], {}).replace("redis-cli", f"redis-cli -p {port}")
        assert subprocess.run(["sh", "-c", probe], env=env).returncode == 0, "healthy with the password"
        no_auth = {k: v for k, v in env.items() if k != "REDISCLI_AUTH"}
        assert subprocess.run(["sh", "-c", probe], env=no_auth, capture_output=True).returncode != 0
    finally:
        server.terminate()
        server.wait(10)
