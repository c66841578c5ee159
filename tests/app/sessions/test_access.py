"""APP_TOKEN and the Origin check, on REST and both WebSockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.typing import Origin

from tests.support.live_server import LiveServer, ScriptBook, live_app, scripted_app
from tests.support.scripted import paris_script

TOKEN = "team-" + "token-for-tests-42"


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[LiveServer]:
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_token=TOKEN, allowed_origins=["https://voice.example"])
    async with live_app(app) as server:
        yield server


async def test_rest_needs_the_token_but_health_does_not(guarded: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=guarded.http_url) as http:
        assert (await http.get("/health")).status_code == 200
        refused = await http.get("/runs")
        assert refused.status_code == 401 and "APP_TOKEN" in refused.json()["detail"]
        assert (await http.get("/runs", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await http.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
        assert (await http.get("/runs", params={"token": TOKEN})).status_code == 200
        assert (await http.post("/session")).status_code == 401


@pytest.mark.parametrize("path", ["/ws/team", "/ws/voice"])
async def test_websockets_need_the_token(guarded: LiveServer, path: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(guarded.ws_url + path)
    assert refused.value.response.status_code == 403
    async with websockets.connect(f"{guarded.ws_url}{path}?token={TOKEN}") as conn:
        assert await conn.recv()


async def test_foreign_origin_refused_own_and_listed_origins_allowed(guarded: LiveServer) -> None:
    url = f"{guarded.ws_url}/ws/team?token={TOKEN}"
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(url, origin=Origin("https://evil.example"))
    for origin in (f"http://127.0.0.1:{guarded.port}", "https://voice.example"):
        async with websockets.connect(url, origin=Origin(origin)) as conn:
            assert await conn.recv()
    async with httpx.AsyncClient(base_url=guarded.http_url) as http:
        cross = await http.get("/runs", params={"token": TOKEN}, headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403


async def test_without_app_token_everything_is_open(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/runs")).status_code == 200
        async with websockets.connect(server.ws_url + "/ws/team") as conn:
            assert await conn.recv()


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_dns_rebinding_is_refused_on_rest_and_both_sockets(tmp_path: Path, token: str | None) -> None:
    """A page on evil.example rebinds its DNS to 127.0.0.1: foreign Host, matching Origin. Refused, with or
    without a token configured; the loopback names keep working."""
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_token=token)
    auth = {"token": TOKEN} if token else {}
    async with live_app(app) as server:
        evil = {"Host": f"evil.example:{server.port}", "Origin": f"http://evil.example:{server.port}"}
        query = f"?token={TOKEN}" if token else ""
        for path in ("/ws/team", "/ws/voice"):
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(
                    f"{server.ws_url}{path}{query}",
                    origin=Origin(evil["Origin"]),
                    additional_headers={"Host": evil["Host"]},
                )
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            for path in ("/runs", "/health", "/", "/protocol.json"):
                refused = await http.get(path, params=auth, headers=evil)
                assert refused.status_code == 400 and "Host not allowed" in refused.json()["detail"], path
            for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
                assert (await http.get("/runs", params=auth, headers={"Host": host})).status_code == 200


async def test_health_without_the_token_says_only_that_the_server_is_up(guarded: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=guarded.http_url) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        full = (await http.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert full["database"] == "ok" and "sessions" in full


@pytest.mark.parametrize(("proxies", "expected"), [(["127.0.0.1/32"], 200), (["10.0.0.0/8"], 401)])
async def test_sso_header_is_trusted_only_from_the_trusted_proxy(
    tmp_path: Path, proxies: list[str], expected: int
) -> None:
    """Behind oauth2-proxy / Authelia the proxy names the user in a header; from anyone else it is ignored."""
    app = scripted_app(
        tmp_path, ScriptBook(paris_script), auth_trusted_header="X-Forwarded-User", trusted_proxies=proxies
    )
    async with live_app(app) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            response = await http.get("/runs", headers={"X-Forwarded-User": "carol"})
            assert response.status_code == expected
            assert (await http.get("/runs")).status_code == 401  # no header, no token: nobody
        if expected == 200:
            async with websockets.connect(
                f"{server.ws_url}/ws/team", additional_headers={"X-Forwarded-User": "carol"}
            ) as ws:
                assert json.loads(await ws.recv())["data"]["user"] == "carol"


async def test_the_first_user_added_closes_an_open_server_without_a_restart(tmp_path: Path) -> None:
    from app.store.users import add_user

    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/runs")).status_code == 200  # nobody configured: the local owner's
            token = await add_user(server.services.store, "dana")
            await asyncio.sleep(1.1)
            assert (await http.get("/runs")).status_code == 401
            assert (await http.get("/runs", headers={"Authorization": f"Bearer {token}"})).status_code == 200
