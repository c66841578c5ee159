"""The Developer's run_python tool: results, timeouts, secrets, the session's files, cleanup, and what happens
without an isolation tool. The default executor is bubblewrap (the escape attempts are in
test_sandbox_escapes.py); the unsafe-local executor (rlimits and Landlock only, an explicit opt-in) is checked
at the end."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from autogen_core import CancellationToken

from sandbox.confine import landlock_abi, python_read_paths
from tests.support.fixture_server import FixtureServer, make_settings
from tests.support.paths import ROOT
from tools.code_execution import CodeSandbox
from tools.config import ToolSettings

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
FAKE_SECRETS = {
    "OPENAI_API_KEY": "sk-" + "test-fake-openai-key-0001",
    "GOOGLE_API_KEY": "AIza-fake-google-key-0002",
    "GITHUB_TOKEN": "ghp_fake_token_0003",
    "DB_PASSWORD": "hunter2-fake-0004",
    "DATABASE_URL": "postgresql://user:pw-fake-0005@db/x",
    "AWS_SECRET_ACCESS_KEY": "fake-aws-secret-0006",
}


async def run(sandbox: CodeSandbox, code: str, session: str = "s1", token: CancellationToken | None = None) -> str:
    tool = sandbox.tool_for(session)
    result = await tool.run_json({"code": code}, token or CancellationToken())
    return tool.return_value_as_string(result)


def output_of(result: str) -> str:
    return result.split("Output:\n", 1)[1]


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                if "State:\tZ" not in (entry / "status").read_text():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


async def wait_for(marker: str, timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while not (found := processes_with(marker)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return found


@pytest.fixture
async def sandbox(fixture_server: FixtureServer, tmp_path: Path) -> AsyncIterator[CodeSandbox]:
    box = CodeSandbox.from_settings(make_settings(fixture_server, tmp_path, code_timeout_s=5.0))
    await box.start()
    yield box
    await box.stop()


@needs_bwrap
async def test_prints_a_result(sandbox: CodeSandbox) -> None:
    assert sandbox.mode == "bubblewrap" and sandbox.isolation.executor == "bubblewrap" and sandbox.isolation.ok
    assert "own user, pid, network" in sandbox.isolation.detail
    assert await run(sandbox, "print(sum(range(10)) * 2)") == "Exit code 0 (success).\nOutput:\n90"


@needs_bwrap
async def test_tool_shape(sandbox: CodeSandbox) -> None:
    tool = sandbox.tool_for("s1")
    assert tool.name == "run_python" and sandbox.tool_for("s1") is tool
    assert list(tool.schema["parameters"]["properties"]) == ["code"]
    assert "an isolated sandbox" in tool.description and "No internet, 5 s limit" in tool.description
    assert tool.schema["parameters"]["properties"]["code"]["description"] == "The script."


@needs_bwrap
async def test_errors_come_back_as_text(sandbox: CodeSandbox) -> None:
    result = await run(sandbox, "def f():\n    raise ValueError('boom')\nf()")
    assert result.startswith("Exit code 1 (error).\nOutput:\nTraceback (most recent call last):")
    assert result.endswith("ValueError: boom")
    assert (await run(sandbox, "   ")).startswith("No code given")
    assert await run(sandbox, "x = 1") == "Exit code 0 (success).\nOutput:\n(no output; use print() to show results)"
    assert (await run(sandbox, "print(")).startswith("Exit code 1 (error).")


@needs_bwrap
async def test_infinite_loop_is_stopped_at_the_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    box = CodeSandbox.from_settings(make_settings(fixture_server, tmp_path, code_timeout_s=1.0))
    await box.start()
    marker = f"child-{uuid.uuid4().hex[:8]}"
    try:
        code = (
            "import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}])\n"
            "print('looping', flush=True)\n"
            "while True:\n    pass\n"
        )
        started = time.monotonic()
        result = await run(box, code)
        assert time.monotonic() - started < 3.0
        assert result == "Stopped: the code ran longer than the 1 s limit and was killed.\nOutput:\nlooping"
        await asyncio.sleep(0.2)
        assert processes_with(marker) == [], "the script's child process survived the timeout"
    finally:
        await box.stop()


@needs_bwrap
async def test_no_secret_reaches_the_code(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TZ", "Europe/Oslo")
    settings = make_settings(fixture_server, tmp_path, code_env_passthrough=["TZ", "DB_PASSWORD", "OPENAI_API_KEY"])
    box = CodeSandbox.from_settings(settings)
    await box.start()
    try:
        result = await run(box, "import json, os; print(json.dumps(dict(os.environ)))")
        env = json.loads(output_of(result))
        assert not set(FAKE_SECRETS) & set(env)
        assert not any(value in result for value in FAKE_SECRETS.values())
        assert env["TZ"] == "Europe/Oslo"  # a listed, harmless variable passes
        assert env["HOME"] == "/scratch"
    finally:
        await box.stop()


@needs_bwrap
async def test_cwd_home_and_tmp_are_in_the_scratch_tmpfs(sandbox: CodeSandbox) -> None:
    code = (
        "import os, tempfile\n"
        "fd, path = tempfile.mkstemp(); os.close(fd)\n"
        "print(os.getcwd()); print(os.path.expanduser('~')); print(os.path.realpath(path))"
    )
    cwd, home, temp = output_of(await run(sandbox, code)).splitlines()
    assert cwd == home == "/scratch" and temp.startswith("/scratch/.tmp/")


@needs_bwrap
async def test_files_stay_for_the_session_and_only_for_it(sandbox: CodeSandbox) -> None:
    code = "import os\nos.makedirs('data', exist_ok=True)\nopen('data/notes.txt', 'w').write('kept')\nos.symlink('/etc', 'link')"
    assert (await run(sandbox, code)).startswith("Exit code 0")
    again = await run(
        sandbox, "import os\nprint(open('data/notes.txt').read(), sorted(set(os.listdir('.')) - {'.tmp'}))"
    )
    assert output_of(again).strip() == "kept ['data']"  # kept; the symlink is not carried over
    other = await run(sandbox, "import os\nprint(sorted(set(os.listdir('.')) - {'.tmp'}))", session="bob")
    assert output_of(other).strip() == "[]"
    state = sandbox.scratch_dir("s1")
    assert state is not None and (state / "files.tar").is_file()


@needs_bwrap
async def test_parallel_calls_of_one_session_keep_both_runs_files(sandbox: CodeSandbox) -> None:
    """AutoGen may run a turn's tool calls concurrently: the session's runs take turns, so neither run's files
    are lost to the other's archive."""
    code = "import time\nopen('{0}.txt', 'w').write('{0}')\ntime.sleep(0.3)"
    await asyncio.gather(run(sandbox, code.format("first")), run(sandbox, code.format("second")))
    listing = await run(sandbox, "import os\nprint(sorted(set(os.listdir('.')) - {'.tmp'}))")
    assert output_of(listing).strip() == "['first.txt', 'second.txt']"


@needs_bwrap
async def test_output_is_capped_keeping_start_and_end(sandbox: CodeSandbox) -> None:
    result = await run(sandbox, "print('START'); print('x' * 1_000_000); print('END')")
    assert result.startswith("Exit code 0 (success).\nOutput:\nSTART")
    assert result.endswith("END") and "omitted" in result
    assert len(result) <= sandbox.settings.tool_output_max_chars


@needs_bwrap
async def test_cancellation_kills_the_run(sandbox: CodeSandbox) -> None:
    marker = f"sleeper-{uuid.uuid4().hex[:8]}"
    token = CancellationToken()
    code = (
        f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])"
    )
    task = asyncio.ensure_future(run(sandbox, code, token=token))
    assert await wait_for(marker), "the run did not start"
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    assert processes_with(marker) == []


@needs_bwrap
async def test_release_and_stop_clean_up(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, code_timeout_s=30.0)
    box = CodeSandbox.from_settings(settings)
    with pytest.raises(RuntimeError):
        box.tool_for("early")
    await box.start()
    await run(box, "open('a.txt', 'w').write('1')", session="one")
    one = box.scratch_dir("one")
    assert one is not None and (one / "files.tar").exists()
    await box.release("one")
    assert not one.exists() and box.scratch_dir("one") is None

    marker = f"long-{uuid.uuid4().hex[:8]}"
    code = (
        f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])"
    )
    long_run = asyncio.ensure_future(run(box, code, session="two"))
    assert await wait_for(marker)
    started = time.monotonic()
    await box.stop()
    result = await asyncio.wait_for(long_run, 5)
    assert time.monotonic() - started < 5 and "Killed by signal SIGKILL" in result, result
    await asyncio.sleep(0.3)
    assert processes_with(marker) == []
    assert not any(settings.code_scratch_root.iterdir())  # type: ignore[union-attr]


def test_settings_default_to_bubblewrap() -> None:
    settings = ToolSettings(_env_file=None)
    assert settings.code_executor == "bubblewrap" and CodeSandbox.from_settings(settings).mode == "bubblewrap"
    assert CodeSandbox.from_settings(ToolSettings(_env_file=None, code_executor="local")).mode == "bubblewrap"
    assert CodeSandbox.from_settings(ToolSettings(_env_file=None, code_executor="docker")).mode == "sandbox"
    assert settings.code_budget.memory_per_process_mb * settings.code_max_processes <= settings.code_memory_mb


async def test_without_bubblewrap_code_runs_are_refused(
    fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(fixture_server, tmp_path, code_bwrap_path=str(tmp_path / "no-such-bwrap"))
    box = CodeSandbox.from_settings(settings)
    assert box.isolation.executor == "unavailable" and not box.isolation.ok  # before start too
    await box.start()
    try:
        assert box.isolation.executor == "unavailable" and not box.isolation.ok and not box.isolation.runs_code
        assert "bubblewrap not found" in box.isolation.detail
        marker = tmp_path / "ran.txt"
        result = await run(box, f"open({str(marker)!r}, 'w').write('x')")
        assert result.startswith("Code execution is switched off on this server: no isolation tool is available")
        assert not marker.exists()
    finally:
        await box.stop()


async def test_start_removes_scratch_left_by_a_dead_server(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path)
    assert settings.code_scratch_root is not None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = settings.code_scratch_root / f"sandbox-{dead.pid}-abc123"
    living = settings.code_scratch_root / "sandbox-1-def456"  # pid 1 is always alive
    for path in (orphan, living):
        (path / "session").mkdir(parents=True)
    box = CodeSandbox.from_settings(settings)
    await box.start()
    try:
        assert not orphan.exists() and living.exists()
    finally:
        await box.stop()


# --- unsafe-local: the operator's explicit opt-in -----------------------------------------------------------


@pytest.fixture
async def unsafe(fixture_server: FixtureServer, tmp_path: Path) -> AsyncIterator[CodeSandbox]:
    box = CodeSandbox.from_settings(make_settings(fixture_server, tmp_path, code_executor="unsafe-local"))
    await box.start()
    yield box
    await box.stop()


async def test_unsafe_local_runs_and_says_it_is_not_isolated(unsafe: CodeSandbox) -> None:
    assert unsafe.mode == "unsafe-local"
    assert unsafe.isolation.executor == "unsafe-local" and not unsafe.isolation.ok and unsafe.isolation.runs_code
    assert "no namespaces" in unsafe.isolation.detail
    assert "a local process" in unsafe.tool_for("s1").description
    assert await run(unsafe, "print(6 * 7)") == "Exit code 0 (success).\nOutput:\n42"
    scratch = unsafe.scratch_dir("s1")
    assert scratch is not None and scratch.is_dir()


async def test_unsafe_local_memory_limit(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, code_executor="unsafe-local", code_memory_mb=256)
    box = CodeSandbox.from_settings(settings)
    await box.start()
    try:
        result = await run(box, "block = bytearray(1024 * 1024 * 1024)\nprint('allocated')")
        assert result.startswith("Exit code 1 (error).") and "MemoryError" in result
    finally:
        await box.stop()


async def test_unsafe_local_required_landlock_missing_refuses_to_run(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    settings = make_settings(
        fixture_server, tmp_path, code_executor="unsafe-local", code_landlock=False, code_require_landlock=True
    )
    box = CodeSandbox.from_settings(settings)
    await box.start()
    try:
        result = await run(box, "open('ran.txt', 'w').write('x')")
        assert result.startswith("Not run: the sandbox is not available on this machine.")
        scratch = box.scratch_dir("s1")
        assert scratch is not None and not (scratch / "ran.txt").exists()
    finally:
        await box.stop()


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
async def test_unsafe_local_landlock_keeps_writes_in_scratch(unsafe: CodeSandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    result = await run(unsafe, f"open({str(outside)!r}, 'w')")
    assert "PermissionError" in result and not outside.exists()


def test_project_root_is_not_among_the_readable_paths() -> None:
    root = ROOT
    paths = [Path(p).resolve() for p in python_read_paths()]
    assert root not in paths and not any(root.is_relative_to(p) for p in paths)
