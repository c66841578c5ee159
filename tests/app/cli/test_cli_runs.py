"""`research-team runs` (full ids, cost) and `runs show ID` (steps, answer, sources, cost): the real console
script against a live server whose team uses the real OpenAI client against the fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import QUESTION, TOKEN, run_cli, script_paris
from tests.support.live_server import live_app, openai_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE


async def test_runs_lists_full_ids_and_cost_and_show_tells_one_run(tmp_path: Path, fake_openai: Any) -> None:
    script_paris(fake_openai.chat)
    async with live_app(openai_app(tmp_path, fake_openai, app_token=TOKEN)) as server:
        auth = ("--url", server.http_url, "--token", TOKEN)
        code, out, err = await run_cli("ask", QUESTION, *auth, "--json", cwd=tmp_path)
        assert code == 0, (out, err)
        run_id = json.loads(out)["run_id"]

        code, out, err = await run_cli("runs", *auth, cwd=tmp_path)  # COLUMNS=200, as a wide terminal
        assert code == 0, err
        assert run_id in out  # the whole id, as `runs show` takes it
        assert "$0.0" in out  # the cost: the default model has a price in the default table

        code, out, err = await run_cli("runs", "show", run_id, *auth, cwd=tmp_path)
        assert code == 0, err
        assert QUESTION in out and PARIS_ANSWER in out and PARIS_SOURCE in out
        assert "The Researcher searches the web" in out  # the steps, in words
        assert "model calls" in out and "$0.0" in out

        code, out, _ = await run_cli("runs", "show", run_id, *auth, "--json", cwd=tmp_path)
        shown = json.loads(out)
        assert shown["run_id"] == run_id and any(e["type"] == "run_finished" for e in shown["events"])

        code, _, err = await run_cli("runs", "show", "run_doesnotexist", *auth, cwd=tmp_path)
        assert code == 2 and "No such run" in err
        code, out, _ = await run_cli("runs", *auth, "--json", "--limit", "1", cwd=tmp_path)
        assert code == 0 and [r["run_id"] for r in json.loads(out)] == [run_id]
