"""The API key (and the app token, and the Google key) never leave the server except towards OpenAI/Google:
not in an HTTP response, a WebSocket frame, a stored event, a log line (at DEBUG), or the code sandbox.

One whole session exercises every path: the page and REST API, a typed task whose Developer dumps the
sandbox's environment, the voice socket with a spoken answer, and a minted realtime client secret.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from app.main import create_app
from tests.fakes.chat import tool_call
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import live_app, make_settings
from tests.support.scripted import research_tools
from tests.support.voice.client import VoiceClient

API_KEY = "sk-" + "proj-LEAKCANARY0123456789abcdefABCDEF"
GOOGLE_KEY = "AIza" + "SyLEAKCANARY0123456789abcdefABCDE"
APP_TOKEN = "app+token/" + "LEAKCANARY=9876543210"  # + / = change under percent- and base64-encoding
USER_TOKEN = "bob-" + "LEAKCANARY-user-token-42"  # a second user's token (APP_USERS)
SECRETS = (API_KEY, GOOGLE_KEY, APP_TOKEN, USER_TOKEN)
TOKEN_Q = urllib.parse.quote(APP_TOKEN, safe="")  # as the page's URLSearchParams sends it


def encoded_forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "percent": urllib.parse.quote(secret, safe=""),
        "plus": urllib.parse.quote_plus(secret),
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


DUMP_ENV = "import os\nprint(sorted(os.environ.items()))\nprint(open('/proc/self/environ', 'rb').read())"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging rewires the root logger; give pytest its handlers back afterwards."""
    names = [
        "",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "autogen_core",
        "autogen_core.events",
        "autogen_agentchat",
        "autogen_agentchat.events",
        "httpx",
        "openai",
    ]
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate) for n in names
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate = handlers, level, propagate


def leaked(text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode()
    return [
        f"{secret[:12]}… ({how})"
        for secret in SECRETS
        for how, form in encoded_forms(secret).items()
        if form.encode() in data
    ]


async def test_no_secret_in_responses_events_logs_or_sandbox(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    # The server's own environment holds the keys, as in production.
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("GOOGLE_API_KEY", GOOGLE_KEY)
    monkeypatch.setenv("GOOGLE_CSE_ID", "cx-test")
    monkeypatch.setenv("APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("CODE_SCRATCH_ROOT", str(tmp_path / "scratch"))
    chat = fake_openai.chat
    chat.add("manager", "TASK: Print the environment.\nNEXT AGENT: Developer", "Done: printed it.\nTERMINATE")
    chat.add("manager", "Hello to you too.\nTERMINATE")  # the spoken question, handed to the team
    chat.add("developer", tool_call("run_python", {"code": DUMP_ENV}), "The environment is printed above.")
    settings = make_settings(
        tmp_path,
        openai_api_key=API_KEY,
        openai_base_url=fake_openai.base_url,
        app_token=APP_TOKEN,
        app_users={"bob": USER_TOKEN},
        log_level="DEBUG",
        log_json=True,
    )
    app = create_app(settings, researcher_tools=research_tools())  # the real code sandbox, from the environment
    seen: list[str | bytes] = []
    auth = {"Authorization": f"Bearer {APP_TOKEN}"}
    async with live_app(app) as server:
        async with httpx.AsyncClient(base_url=server.http_url, headers=auth) as http:
            team = await websockets.connect(f"{server.ws_url}/ws/team?token={TOKEN_Q}", max_size=None)
            seen.append(await team.recv())
            await team.send('{"type": "task", "text": "Print the environment"}')
            while '"run_finished"' not in seen[-1]:
                seen.append(await team.recv())
            run_id = json.loads(next(f for f in seen if '"run_finished"' in f))["run_id"]
            session_id = json.loads(seen[0])["session_id"]
            await team.close()
            voice = VoiceClient(await websockets.connect(f"{server.ws_url}/ws/voice?token={TOKEN_Q}", max_size=None))
            await voice.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
            await voice.send({"type": "text", "text": "Hello there"})
            await voice.until(
                lambda m: m["type"] == "caption" and m.get("final") and "Hello to you too" in m.get("text", ""),
                timeout=20,
            )
            await voice.close()
            for path in (
                "/",
                "/health",
                "/runs",
                f"/runs/{run_id}",
                f"/runs/{run_id}/events",
                "/protocol.json",
                "/openapi.json",
                f"/runs?session={session_id}",
            ):
                response = await http.get(path)
                assert response.status_code == 200, path
                seen.append(response.text)
            for wrong in (USER_TOKEN + "x", base64.b64encode(USER_TOKEN.encode()).decode()):
                assert (await http.get("/runs", headers={"Authorization": f"Bearer {wrong}"})).status_code == 401
            bob = await http.get(
                f"/runs?token={urllib.parse.quote(USER_TOKEN, safe='')}", headers={"Authorization": ""}
            )
            assert bob.status_code == 200 and bob.json()["runs"] == []  # bob's own runs: none
            minted = await http.post("/session")
            assert minted.status_code == 200 and minted.json()["client_secret"]["value"].startswith("ek_")
            seen.append(minted.text)
    voice_frames = [json.dumps(m) for m in voice.messages]
    logs = capfd.readouterr()
    database = b"".join(p.read_bytes() for p in tmp_path.glob("runs.db*"))
    # The raw tool output, before any redaction: the model call that next received it (the Developer restating,
    # or the Manager when the results reach it as they are: agents/manager/tool_reports.py).
    sandbox_output = next(
        str(m.get("content"))
        for request in chat.requests
        for m in request.body["messages"]
        if "PATH" in str(m.get("content") or "") and "DUMP" not in str(m.get("content") or "")
    )

    # The checks can fail: each place really holds what it should.
    assert "PATH" in sandbox_output, sandbox_output
    assert any('"realtime.log"' in f for f in voice_frames) and len(seen) > 10
    assert '"server ready"' in logs.err and len(logs.err.splitlines()) > 20
    assert session_id.encode() in database
    assert fake_openai.chat.requests[0].body and fake_openai.problems() == []
    # And no secret anywhere.
    assert leaked(sandbox_output) == [], "the code sandbox sees a secret"
    assert leaked("\n".join(str(s) for s in seen)) == [], "a response or team event carries a secret"
    assert leaked("\n".join(voice_frames)) == [], "a /ws/voice frame carries a secret"
    assert leaked(logs.out + logs.err) == [], "a log line carries a secret"
    assert leaked(database) == [], "the event store holds a secret"
