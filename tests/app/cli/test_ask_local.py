"""`research-team ask "…"` as a person types it, with no server running: the team runs in the command's own
process (the settings and the store `serve` would use), against the fake OpenAI; `--json` too."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from app.cli.local_server import DEFAULT_URL
from tests.fakes.chat import tool_call
from tests.support.cli import cli_env, run
from tests.support.paths import ROOT

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."
SOURCE = "https://en.wikipedia.org/wiki/Paris"


def script(fake: Any) -> None:
    fake.chat.add("manager", tool_call("delegate", {"agent": "Researcher", "instructions": "Find France's capital."}))
    fake.chat.add("researcher", f"The capital of France is Paris ({SOURCE}).")
    finish = tool_call("finish", {"answer": ANSWER, "sources": [SOURCE]})
    fake.chat.add("manager", finish, finish)  # no tool returned the source: asked once to fix it, kept


def research_team(fake: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(("OPENAI_", "APP_", "RESEARCH_TEAM_", "DATABASE_"))
    env.update(fake.env(), PYTHONPATH=str(ROOT), COLUMNS="200")
    env.pop("LOG_JSON", None)  # what a person has: nothing set
    return run(*args, cwd=tmp_path, env=env, timeout=120)


def test_ask_answers_with_no_server_running(tmp_path: Path, fake_openai: Any) -> None:
    import asyncio

    from app.cli.local_server import default_server_running

    if asyncio.run(default_server_running()):
        pytest.skip(f"a server answers at {DEFAULT_URL}: `ask` would rightly use it")
    script(fake_openai)
    done = research_team(fake_openai, tmp_path, "ask", QUESTION)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ANSWER in done.stdout and f"[1] {SOURCE}" in done.stdout
    assert "Cannot reach the server" not in done.stderr and "Traceback" not in done.stderr
    assert "in this process" in done.stderr

    script(fake_openai)
    done = research_team(fake_openai, tmp_path, "ask", QUESTION, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["complete"] is True and result["answer"] == ANSWER and result["sources"] == [SOURCE]

    # the same store `serve` uses here (the default SQLite file in the working directory)
    databases = list(tmp_path.glob("data/*.db"))
    assert databases, list(tmp_path.iterdir())
    with sqlite3.connect(databases[0]) as db:
        ids = {row[0] for row in db.execute("select run_id from runs")}
    assert result["run_id"] in ids and len(ids) == 2
