"""The sandbox service (sandbox/runner.py) run locally, and CodeSandbox in docker/sandbox mode talking to it over
HTTP, as the app does inside docker compose. The service runs the same bubblewrap runner as the app's default
executor (the escape attempts against both are in test_sandbox_escapes.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from autogen_core import CancellationToken

from sandbox.budget import SandboxBudget
from sandbox.runner import RunnerConfig, make_server
from tests.support.paths import ROOT
from tools.code_execution import CodeSandbox
from tools.config import ToolSettings


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    scratch = tmp_path / "runner-scratch"
    config = RunnerConfig(
        scratch_root=scratch,
        max_timeout_s=2.0,
        max_code_bytes=10_000,
        budget=SandboxBudget(memory_mb=512),
        max_concurrent=1,
        queue_wait_s=0.2,
    )
    server = make_server("127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", scratch
    server.shutdown()
    server.server_close()


def sandbox_settings(url: str, **overrides: object) -> ToolSettings:
    values: dict[str, Any] = {
        "code_executor": "sandbox",
        "sandbox_url": url,
        "code_timeout_s": 5.0,
        "sandbox_start_timeout_s": 2.0,
        **overrides,
    }
    return ToolSettings(_env_file=None, **values)


async def run(box: CodeSandbox, code: str, session: str = "sess-1") -> str:
    tool = box.tool_for(session)
    return tool.return_value_as_string(await tool.run_json({"code": code}, CancellationToken()))


async def test_code_runs_in_the_service(runner: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, scratch = runner
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-runner-key")
    box = CodeSandbox.from_settings(sandbox_settings(url))
    await box.start()
    try:
        assert box.mode == "sandbox" and box.tool_for("sess-1").name == "run_python"
        assert box.isolation.executor == "sandbox-service" and box.isolation.ok, box.isolation
        assert "bubblewrap" in box.isolation.detail
        assert await run(box, "print(2 ** 10)") == "Exit code 0 (success).\nOutput:\n1024"
        result = await run(box, "import os; print(sorted(os.environ)); open('f.txt', 'w').write('x')")
        assert "OPENAI_API_KEY" not in result and "sk-fake-runner-key" not in result
        session_dirs = list(scratch.iterdir())
        assert len(session_dirs) == 1 and (session_dirs[0] / "files.tar").exists()
        assert "['f.txt']" in await run(box, "import os; print(sorted(set(os.listdir()) - {'.tmp'}))")
        await box.release("sess-1")
        assert not session_dirs[0].exists()
    finally:
        await box.stop()


async def test_any_session_id_is_accepted(runner: tuple[str, Path]) -> None:
    url, scratch = runner
    box = CodeSandbox.from_settings(sandbox_settings(url))
    await box.start()
    try:
        odd = "user@example.com/../../etc?x=1 ünïcode"
        assert await run(box, "print('ok')", session=odd) == "Exit code 0 (success).\nOutput:\nok"
        assert [p.parent for p in scratch.iterdir()] == [scratch]  # stayed under the scratch root
    finally:
        await box.stop()
    assert not any(scratch.iterdir())  # stop() released the session


async def test_timeout_is_capped_by_the_service(runner: tuple[str, Path]) -> None:
    url, _ = runner
    box = CodeSandbox.from_settings(sandbox_settings(url, code_timeout_s=30.0))
    await box.start()
    try:
        started = time.monotonic()
        result = await run(box, "while True:\n    pass")
        assert time.monotonic() - started < 5
        assert result.startswith("Stopped: the code ran longer than the 2 s limit")  # the service's cap
    finally:
        await box.stop()


async def test_unreachable_sandbox_is_a_message_not_a_crash() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = CodeSandbox.from_settings(sandbox_settings(f"http://127.0.0.1:{port}", sandbox_start_timeout_s=0.0))
    await box.start()  # logs a warning; the app still starts
    try:
        result = await run(box, "print(1)")
        assert result == "The code sandbox is not reachable (ConnectError). Code cannot be run right now."
    finally:
        await box.stop()


def test_service_rejects_bad_requests(runner: tuple[str, Path]) -> None:
    url, _ = runner
    with httpx.Client(base_url=url) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["ok"] is True and health["executor"] == "bubblewrap"
        assert client.get("/nope").status_code == 404
        assert client.post("/run", content=b"not json", headers={"content-type": "application/json"}).status_code == 400
        assert client.post("/run", json={"code": "print(1)"}).status_code == 400  # no session id
        assert client.post("/run", json={"session_id": "../../etc", "code": "print(1)"}).status_code == 400
        assert client.post("/run", json={"session_id": "a", "code": ""}).status_code == 400
        assert client.post("/run", json={"session_id": "a", "code": "x" * 20_000}).status_code == 413
        assert client.post("/run", json={"session_id": "a", "code": "print(1)", "timeout_s": -1}).status_code == 400
        ok = client.post("/run", json={"session_id": "a", "code": "print(1)", "timeout_s": 1})
        assert ok.status_code == 200 and ok.json()["output"] == "1\n" and ok.json()["exit_code"] == 0


def test_service_is_busy_past_its_concurrency(runner: tuple[str, Path]) -> None:
    url, _ = runner
    results: list[int] = []

    def slow() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            results.append(
                client.post(
                    "/run", json={"session_id": "slow", "code": "import time; time.sleep(1.5)", "timeout_s": 2}
                ).status_code
            )

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    with httpx.Client(base_url=url, timeout=10) as client:
        busy = client.post("/run", json={"session_id": "other", "code": "print(1)"})
    thread.join()
    assert busy.status_code == 503 and "busy" in busy.json()["error"]
    assert results == [200]


def test_runner_script_starts_standalone(tmp_path: Path) -> None:
    """`python sandbox/runner.py` (the image runs `python -m sandbox.runner`) serves with only its env config."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SANDBOX_HOST": "127.0.0.1",
        "SANDBOX_PORT": str(port),
        "SANDBOX_SCRATCH": str(tmp_path / "scr"),
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "sandbox" / "runner.py")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the runner did not start"
                time.sleep(0.1)
        assert health.json()["status"] == "ok", health.json()
        result = httpx.post(
            f"http://127.0.0.1:{port}/run", json={"session_id": "x", "code": "print(40 + 2)"}, timeout=10
        ).json()
        assert json.loads(json.dumps(result))["output"] == "42\n"
    finally:
        process.terminate()
        process.wait(5)
        assert process.stdout is not None
        process.stdout.close()


def test_service_without_bubblewrap_refuses_to_run(tmp_path: Path) -> None:
    config = RunnerConfig(scratch_root=tmp_path / "s", bwrap_path=str(tmp_path / "missing-bwrap"))
    server = make_server("127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}") as client:
            health = client.get("/health").json()
            assert health["ok"] is False and health["status"] == "degraded" and health["executor"] == "unavailable"
            refused = client.post("/run", json={"session_id": "a", "code": f"open({str(tmp_path / 'x')!r}, 'w')"})
            assert refused.status_code == 503 and "no isolation" in refused.json()["error"]
            assert not (tmp_path / "x").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_budget_comes_from_the_same_variables_as_the_app() -> None:
    env = {"CODE_TIMEOUT_S": "12", "CODE_MEMORY_MB": "2048", "CODE_MAX_PROCESSES": "16", "CODE_DISK_MB": "100"}
    config = RunnerConfig.from_env(env)
    app = ToolSettings(_env_file=None, code_timeout_s=12, code_memory_mb=2048, code_max_processes=16, code_disk_mb=100)
    assert config.budget == app.code_budget
    assert RunnerConfig.from_env({}).budget == ToolSettings(_env_file=None).code_budget
