"""Forwarded headers, rate limits by user, reserved names and the strict Host parser (issue 22, round three).

Every test here is an attack (or the proxy it must not break) against a real uvicorn server: `live_app` runs
uvicorn with its own defaults (proxy_headers on, FORWARDED_ALLOW_IPS 127.0.0.1), as `uvicorn app.main:app`
does; `serve_app` runs it with the options `research-team serve` uses.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
import websockets
from fastapi import FastAPI

from app.cli.local_server import uvicorn_options
from tests.support.cli import cli_env, serve_process
from tests.support.live_server import LiveServer, ScriptBook, live_app, make_settings, scripted_app, serve
from tests.support.paths import ROOT
from tests.support.scripted import paris_script

SSO = {"auth_trusted_header": "X-Forwarded-User"}


def serve_app(app: FastAPI) -> AbstractAsyncContextManager[LiveServer]:
    """The app under uvicorn configured exactly as `research-team serve` configures it."""
    return serve(app, options=uvicorn_options(make_settings(Path("/nonexistent")), host="127.0.0.1", port=0))


RUNNERS = {"uvicorn-defaults": live_app, "serve-config": serve_app}


@pytest.mark.parametrize("runner", RUNNERS)
async def test_a_forged_forwarded_for_does_not_make_a_local_caller_the_trusted_proxy(
    tmp_path: Path, runner: str
) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default and rewrites the client address: a local caller
    who claims to be forwarded by the SSO proxy 10.1.2.3 must not be served as the user it names."""
    app = scripted_app(tmp_path, ScriptBook(paris_script), trusted_proxies=["10.1.2.3"], **SSO)
    forged = {"X-Forwarded-User": "alice", "X-Forwarded-For": "10.1.2.3"}
    async with RUNNERS[runner](app) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        assert (await http.get("/runs", headers=forged)).status_code == 401
        assert (await http.get("/runs", headers={**forged, "X-Forwarded-For": "10.1.2.3, 10.1.2.3"})).status_code == 401
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{server.ws_url}/ws/team", additional_headers=forged)


@pytest.mark.parametrize("runner", RUNNERS)
async def test_an_sso_proxy_on_loopback_that_sets_forwarded_for_is_honoured(tmp_path: Path, runner: str) -> None:
    """oauth2-proxy on 127.0.0.1 names the user and, like every proxy, appends the browser's address."""
    app = scripted_app(tmp_path, ScriptBook(paris_script), trusted_proxies=["127.0.0.1"], **SSO)
    proxied = {"X-Forwarded-User": "alice", "X-Forwarded-For": "203.0.113.7"}
    async with RUNNERS[runner](app) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/runs", headers=proxied)).status_code == 200
        async with websockets.connect(f"{server.ws_url}/ws/team", additional_headers=proxied) as ws:
            assert json.loads(await ws.recv())["data"]["user"] == "alice"


def test_serve_leaves_forwarded_headers_to_the_app() -> None:
    """uvicorn's proxy middleware would rewrite the peer before the app can check it against TRUSTED_PROXIES."""
    options = uvicorn_options(make_settings(Path("/nonexistent")), host="0.0.0.0", port=8000)
    assert options["proxy_headers"] is False


async def _serve_status(tmp_path: Path, trusted_proxies: str, headers: dict[str, str]) -> int:
    """`research-team serve` in its own process, with the SSO header trusted from `trusted_proxies`: the status
    of GET /runs sent from 127.0.0.1 with `headers`."""
    env = cli_env(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}",
        AUTH_TRUSTED_HEADER="X-Forwarded-User",
        TRUSTED_PROXIES=trusted_proxies,
    )
    async with serve_process(env, tmp_path) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        return (await http.get("/runs", headers=headers)).status_code


async def test_the_serve_command_refuses_a_forged_proxy_and_honours_the_real_one(tmp_path: Path) -> None:
    forged = {"X-Forwarded-User": "alice", "X-Forwarded-For": "10.1.2.3"}
    assert await _serve_status(tmp_path, '["10.1.2.3"]', forged) == 401
    real = {"X-Forwarded-User": "alice", "X-Forwarded-For": "203.0.113.7"}
    assert await _serve_status(tmp_path, '["127.0.0.1"]', real) == 200


# ---- rate limits by user ----------------------------------------------------------------------------------------
USERS = {"alice": "alice-" + "token-0000", "bob": "bob-" + "token-0000"}


def _bearer(name: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {USERS[name]}", **extra}


async def test_session_minting_is_limited_per_user_not_per_address(tmp_path: Path) -> None:
    """Behind one proxy every user shares an address: alice using up her /session budget must not lock bob out."""
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_users=USERS, session_rate_per_min=2, model_max_retries=0)
    async with live_app(app) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        statuses = [(await http.post("/session", headers=_bearer("alice"))).status_code for _ in range(3)]
        assert statuses[:2] != [429, 429] and statuses[2] == 429
        assert (await http.post("/session", headers=_bearer("bob"))).status_code != 429


async def test_a_spoofed_forwarded_for_does_not_lift_the_session_limit(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_users=USERS, session_rate_per_min=2, model_max_retries=0)
    async with live_app(app) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        statuses = [
            (
                await http.post("/session", headers=_bearer("alice", **{"X-Forwarded-For": f"198.51.100.{i}"}))
            ).status_code
            for i in range(4)
        ]
        assert statuses[2:] == [429, 429]


# ---- reserved names ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["local", "owner"])
async def test_an_sso_header_cannot_take_a_reserved_name(tmp_path: Path, name: str) -> None:
    """`local` owns a server without users and has no session cap; `owner` is APP_TOKEN's user."""
    app = scripted_app(tmp_path, ScriptBook(paris_script), trusted_proxies=["127.0.0.1"], **SSO)
    async with live_app(app) as server, httpx.AsyncClient(base_url=server.http_url) as http:
        refused = await http.get("/runs", headers={"X-Forwarded-User": name})
        assert refused.status_code == 403 and "reserved" in refused.json()["detail"]


@pytest.mark.parametrize("name", ["local", "owner"])
async def test_users_add_refuses_a_reserved_name(tmp_path: Path, name: str) -> None:
    from app.store.run_store import RunStore
    from app.store.users import add_user

    store = RunStore(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    await store.start()
    try:
        with pytest.raises(ValueError, match="reserved"):
            await add_user(store, name)
    finally:
        await store.stop()


def test_the_users_add_command_says_the_name_is_reserved(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli.main import cli

    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}"}
    result = CliRunner().invoke(cli, ["users", "add", "local"], env=env)
    assert result.exit_code == 1 and "reserved" in result.output


def test_app_users_cannot_name_the_local_owner(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        scripted_app(tmp_path, ScriptBook(paris_script), app_users={"local": "some-" + "token-0000"})


# ---- the Host header, strictly ----------------------------------------------------------------------------------
async def _raw_status(port: int, head: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        return int(line.split()[1])
    finally:
        writer.close()


@pytest.mark.parametrize(
    "host",
    ["localhost:evil", "localhost:8000@evil.example", "localhost:", "localhost:99999", "[::1", "::1", "local host"],
)
async def test_a_malformed_host_is_refused(tmp_path: Path, host: str) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        status = await _raw_status(server.port, f"GET /runs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        assert status == 400, host


async def test_two_host_headers_are_refused(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        two = "GET /runs HTTP/1.1\r\nHost: evil.example\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        assert await _raw_status(server.port, two) == 400
        good = f"GET /runs HTTP/1.1\r\nHost: localhost:{server.port}\r\nConnection: close\r\n\r\n"
        assert await _raw_status(server.port, good) == 200
        assert (
            await _raw_status(server.port, "GET /runs HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n") == 200
        )
