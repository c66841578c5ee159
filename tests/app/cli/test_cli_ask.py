"""`research-team ask` and `runs`: the real console script against a live server whose team uses the real
OpenAI clients pointed at the fake OpenAI server."""

from __future__ import annotations

import json
from pathlib import Path

from app.main import create_app
from tests.fakes.server import FakeOpenAI
from tests.support.cli import QUESTION, TOKEN, run_cli, script_paris
from tests.support.live_server import ScriptBook, live_app, make_settings, openai_app, scripted_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, developer_tools, research_tools


async def test_ask_prints_steps_answer_and_sources_and_json_is_valid(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    script_paris(fake_openai.chat)
    script_paris(fake_openai.chat)
    async with live_app(openai_app(tmp_path, fake_openai, app_token=TOKEN)) as server:
        auth = ("--url", server.http_url, "--token", TOKEN)
        code, out, err = await run_cli("ask", QUESTION, *auth, cwd=tmp_path)
        assert code == 0, (out, err)
        assert 'The Researcher searches the web for "current weather in Paris"' in out  # in words
        assert PARIS_ANSWER in out and f"[1] {PARIS_SOURCE}" in out

        code, out, err = await run_cli("ask", QUESTION, *auth, "--json", cwd=tmp_path)
        assert code == 0, (out, err)
        result = json.loads(out)  # stdout is exactly one JSON document
        assert result["complete"] is True and result["answer"].startswith(PARIS_ANSWER)
        assert result["sources"] == [PARIS_SOURCE] and result["usage"]["model_calls"] == 3

        code, out, err = await run_cli("runs", *auth, "--json", cwd=tmp_path)
        assert code == 0, err
        listed = json.loads(out)
        assert result["run_id"] in [r["run_id"] for r in listed] and len(listed) == 2
        code, out, _ = await run_cli("runs", *auth, cwd=tmp_path)
        assert code == 0 and result["run_id"] in out
    fake_openai.assert_clean()


async def test_ask_says_why_it_cannot_ask(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(), app_token=TOKEN)) as server:
        code, out, err = await run_cli("ask", QUESTION, "--url", server.http_url, "--token", "wrong", cwd=tmp_path)
        assert code == 2 and "refused" in err and out == ""
        code, out, _ = await run_cli("ask", QUESTION, "--url", server.http_url, "--json", cwd=tmp_path)
        assert code == 2 and "error" in json.loads(out)
    no_model = create_app(
        make_settings(tmp_path, openai_api_key=None),
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
    )
    async with live_app(no_model) as server:
        code, out, err = await run_cli("ask", QUESTION, "--url", server.http_url, cwd=tmp_path)
        assert code == 2 and "OPENAI_API_KEY" in err
