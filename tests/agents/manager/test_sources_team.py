"""Verified sources through the whole server (fake OpenAI, real SDK, /ws/team): a Manager that cites a page no
tool returned is asked once, with tool_choice finish and a note naming it, to replace or drop it; what it then
cites reaches run_finished as `source_entries` (verified or not, with the passage the team read), `sources`
stays the list of strings older clients read, and both validate against /protocol.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from tests.fakes.chat import tool_call
from tests.support.live_server import live_app, openai_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE

INVENTED = "https://invented.example/paris-weather"
DELEGATE = tool_call("delegate", {"agent": "Researcher", "instructions": "Find the current weather in Paris."})


async def ask_paris(tmp_path: Path, fake_openai: Any, *finishes: list[str]) -> dict[str, Any]:
    chat = fake_openai.chat
    chat.add("manager", DELEGATE, *(tool_call("finish", {"answer": PARIS_ANSWER, "sources": s}) for s in finishes))
    chat.add("researcher", tool_call("web_search", {"query": "weather Paris"}), f"Paris: 18°C ({PARIS_SOURCE}).")
    async with live_app(openai_app(tmp_path, fake_openai)) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until(lambda e: e["type"] == "run_finished", timeout=20)
        await client.close()
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            schema = (await http.get("/protocol.json")).json()["server_to_client"]
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(done)]
    assert not errors, errors
    fake_openai.assert_clean()
    return dict(done["data"])


async def test_an_invented_source_is_sent_back_once_and_replaced(tmp_path: Path, fake_openai: Any) -> None:
    data = await ask_paris(tmp_path, fake_openai, [PARIS_SOURCE, INVENTED], [PARIS_SOURCE])
    assert data["stop_reason"] == "completed" and data["complete"]
    assert data["sources"] == [PARIS_SOURCE]
    assert data["source_entries"] == [
        {"url": PARIS_SOURCE, "title": "Paris weather now", "verified": True, "quote": "18°C, partly cloudy"}
    ]
    manager = fake_openai.chat.calls("manager")
    assert len(manager) == 3
    assert manager[2].body["tool_choice"] == {"type": "function", "function": {"name": "finish"}}
    note = manager[2].messages[-1]
    assert note["role"] == "system" and INVENTED in note["content"] and PARIS_SOURCE not in note["content"]


async def test_a_source_still_unread_after_the_one_request_goes_out_marked(tmp_path: Path, fake_openai: Any) -> None:
    data = await ask_paris(tmp_path, fake_openai, [INVENTED, PARIS_SOURCE], [INVENTED, PARIS_SOURCE])
    assert data["stop_reason"] == "completed"
    assert data["sources"] == [INVENTED, PARIS_SOURCE]  # what older clients read, unchanged
    assert [(e["url"], e["verified"]) for e in data["source_entries"]] == [(INVENTED, False), (PARIS_SOURCE, True)]
    assert data["source_entries"][0]["quote"] is None
    assert len(fake_openai.chat.calls("manager")) == 3  # asked once, not again


async def test_read_sources_finish_at_once(tmp_path: Path, fake_openai: Any) -> None:
    data = await ask_paris(tmp_path, fake_openai, [PARIS_SOURCE])
    assert [e["verified"] for e in data["source_entries"]] == [True]
    assert len(fake_openai.chat.calls("manager")) == 2
