"""`research-team users` on a running server: the first user closes it (and says so, and how to reach the runs
made before), `users adopt` / `--take-local-runs` hand those runs over, removing the last user reopens it at once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

import httpx

from tests.support.cli import cli_env, run
from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.paths import ROOT


def users(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(("APP_", "DATABASE_", "AUTH_"))
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    return run("users", *args, cwd=tmp_path, env=env)


async def status_within(
    http: httpx.AsyncClient, expected: int, seconds: float, headers: dict[str, str] | None = None
) -> int:
    status = 0
    for _ in range(int(seconds / 0.05)):
        status = (await http.get("/runs", headers=headers)).status_code
        if status == expected:
            break
        await asyncio.sleep(0.05)
    return status


async def test_users_add_adopt_remove_on_a_running_server(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook())) as server:
        with sqlite3.connect(tmp_path / "runs.db") as db:
            db.execute(
                "insert into runs (run_id, session_id, task, status, created_at, owner) values (?,?,?,?,?,?)",
                ("run_before_users", "s_before", "an old question", "finished", "2026-01-01T00:00:00+00:00", "local"),
            )
            db.execute("insert into sessions values ('s_before', 'local', '2026-01-01T00:00:00+00:00')")
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/runs")).status_code == 200  # no users: open

            added = users(tmp_path, "add", "alice")
            assert added.returncode == 0, added.stderr
            token = added.stdout.strip()
            assert "now needs a token" in added.stderr and "research-team users adopt alice" in added.stderr
            assert await status_within(http, 401, 3) == 401
            alice = {"Authorization": f"Bearer {token}"}
            assert (await http.get("/runs", headers=alice)).json()["runs"] == []

            adopted = users(tmp_path, "adopt", "alice")
            assert adopted.returncode == 0 and "1 run(s)" in adopted.stdout, adopted.stderr
            runs = (await http.get("/runs", headers=alice)).json()["runs"]
            assert [r["run_id"] for r in runs] == ["run_before_users"]

            second = users(tmp_path, "add", "bob", "--take-local-runs")
            assert second.returncode == 0 and "0 run(s)" in second.stderr and "now needs" not in second.stderr

            assert users(tmp_path, "remove", "bob").returncode == 0
            removed = users(tmp_path, "remove", "alice")
            assert removed.returncode == 0 and "open again" in removed.stderr
            # no token presented: the server reopens without one (it used to wait for some token)
            assert await status_within(http, 200, 1.5) == 200
