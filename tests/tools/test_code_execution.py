"""The Developer's run_python tool in local mode: results, timeouts, secrets, scratch confinement, cleanup.

Where the kernel has Landlock (Linux 5.13+; TCP rules 6.7+) the confinement tests check real enforcement;
elsewhere they are skipped with the reason, and only the best-effort part (cwd, HOME, TMPDIR) is checked."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from autogen_core import CancellationToken

from tests.tools.conftest import make_settings
from tests.tools.fixture_server import FixtureServer
from tools.code_execution import CodeSandbox
from tools.config import ToolSettings
from tools.confine import landlock_abi, python_read_paths

LANDLOCK = landlock_abi()
needs_landlock = pytest.mark.skipif(LANDLOCK < 1, reason="the kernel has no Landlock: local mode cannot confine")
needs_landlock_net = pytest.mark.skipif(LANDLOCK < 4, reason="Landlock ABI < 4: TCP cannot be restricted")
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


@pytest.fixture
async def sandbox(fixture_server: FixtureServer, tmp_path: Path) -> CodeSandbox:
    box = CodeSandbox.from_settings(make_settings(fixture_server, tmp_path, code_timeout_s=5.0))
    await box.start()
    yield box  # type: ignore[misc]
    await box.stop()


async def test_prints_a_result(sandbox: CodeSandbox) -> None:
    assert await run(sandbox, "print(sum(range(10)) * 2)") == "Exit code 0 (success).\nOutput:\n90"


async def test_tool_shape(sandbox: CodeSandbox) -> None:
    tool = sandbox.tool_for("s1")
    assert tool.name == "run_python" and sandbox.tool_for("s1") is tool
    assert list(tool.schema["parameters"]["properties"]) == ["code"]
    assert "No internet access. Time limit 5 s." in tool.description


async def test_errors_come_back_as_text(sandbox: CodeSandbox) -> None:
    result = await run(sandbox, "def f():\n    raise ValueError('boom')\nf()")
    assert result.startswith("Exit code 1 (error).\nOutput:\nTraceback (most recent call last):")
    assert result.endswith("ValueError: boom")
    assert (await run(sandbox, "   ")).startswith("No code given")
    assert await run(sandbox, "x = 1") == "Exit code 0 (success).\nOutput:\n(no output; use print() to show results)"
    assert (await run(sandbox, "print(")).startswith("Exit code 1 (error).")


async def test_infinite_loop_is_stopped_at_the_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    box = CodeSandbox.from_settings(make_settings(fixture_server, tmp_path, code_timeout_s=1.0))
    await box.start()
    try:
        code = (
            "import subprocess, sys\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
            "open('child.pid', 'w').write(str(child.pid))\n"
            "print('looping', flush=True)\n"
            "while True:\n    pass\n"
        )
        started = time.monotonic()
        result = await run(box, code)
        assert time.monotonic() - started < 3.0
        assert result == ("Stopped: the code ran longer than the 1 s limit and was killed.\nOutput:\nlooping")
        scratch = box.scratch_dir("s1")
        assert scratch is not None
        child = int((scratch / "child.pid").read_text())
        assert not _alive(child), "the script's child process survived the timeout"
    finally:
        await box.stop()


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
        env = json.loads(result.split("Output:\n", 1)[1])
        assert not set(FAKE_SECRETS) & set(env)
        assert not any(value in result for value in FAKE_SECRETS.values())
        assert env["TZ"] == "Europe/Oslo"  # a listed, harmless variable passes
        assert env["HOME"] == str(box.scratch_dir("s1"))
    finally:
        await box.stop()


@needs_landlock
async def test_server_environment_is_not_readable_through_proc(
    sandbox: CodeSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server process (here: pytest) has the key in its environment; the code cannot read it from /proc."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_SECRETS["OPENAI_API_KEY"])
    code = (
        f"try:\n    print(open('/proc/{os.getpid()}/environ', 'rb').read())\n"
        "except OSError as exc:\n    print('denied', type(exc).__name__)"
    )
    result = await run(sandbox, code)
    assert "denied PermissionError" in result and FAKE_SECRETS["OPENAI_API_KEY"] not in result


async def test_cwd_home_and_tmp_are_in_the_scratch_dir(sandbox: CodeSandbox) -> None:
    code = (
        "import os, tempfile\n"
        "open('notes.txt', 'w').write('kept')\n"
        "fd, path = tempfile.mkstemp(); os.close(fd)\n"
        "print(os.getcwd()); print(os.path.expanduser('~')); print(path)"
    )
    result = await run(sandbox, code)
    scratch = sandbox.scratch_dir("s1")
    assert scratch is not None
    cwd, home, temp = result.split("Output:\n", 1)[1].splitlines()
    assert Path(cwd) == scratch and Path(home) == scratch and Path(temp).parent == scratch / "tmp"
    assert (scratch / "notes.txt").read_text() == "kept"
    assert "kept" in await run(sandbox, "print(open('notes.txt').read())")  # files stay for the session


@needs_landlock
async def test_cannot_write_or_read_outside_the_scratch_dir(sandbox: CodeSandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    project_file = Path(__file__).resolve()
    code = (
        f"for path, mode in (({str(outside)!r}, 'w'), ('/etc/evil.conf', 'w'), ({str(project_file)!r}, 'r')):\n"
        "    try:\n"
        "        open(path, mode).close(); print('allowed', path)\n"
        "    except OSError as exc:\n"
        "        print('denied', type(exc).__name__, path)\n"
    )
    result = await run(sandbox, code)
    assert "allowed" not in result
    assert result.count("denied PermissionError") == 3
    assert not outside.exists() and not Path("/etc/evil.conf").exists()


@needs_landlock
async def test_sessions_do_not_see_each_other(sandbox: CodeSandbox) -> None:
    await run(sandbox, "open('mine.txt', 'w').write('A')", session="alice")
    alice = sandbox.scratch_dir("alice")
    assert alice is not None
    result = await run(
        sandbox,
        f"import os\ntry:\n    print(os.listdir({str(alice)!r}))\n"
        "except OSError as exc:\n    print('denied', type(exc).__name__)",
        session="bob",
    )
    assert "denied PermissionError" in result and "mine.txt" not in result


@needs_landlock_net
async def test_no_tcp_connections(sandbox: CodeSandbox, fixture_server: FixtureServer) -> None:
    code = (
        "import socket\ntry:\n"
        f"    socket.create_connection(('127.0.0.1', {fixture_server.port}), timeout=2); print('connected')\n"
        "except OSError as exc:\n    print('denied', type(exc).__name__)"
    )
    before = len(fixture_server.requests)
    result = await run(sandbox, code)
    assert "denied PermissionError" in result and len(fixture_server.requests) == before


async def test_output_is_capped_keeping_start_and_end(sandbox: CodeSandbox) -> None:
    result = await run(sandbox, "print('START'); print('x' * 1_000_000); print('END')")
    assert result.startswith("Exit code 0 (success).\nOutput:\nSTART")
    assert result.endswith("END") and "omitted" in result
    assert len(result) <= sandbox.settings.tool_output_max_chars


async def test_memory_limit(fixture_server: FixtureServer, tmp_path: Path) -> None:
    box = CodeSandbox.from_settings(make_settings(fixture_server, tmp_path, code_memory_mb=256))
    await box.start()
    try:
        result = await run(box, "block = bytearray(1024 * 1024 * 1024)\nprint('allocated')")
        assert result.startswith("Exit code 1 (error).") and "MemoryError" in result
    finally:
        await box.stop()


async def test_required_landlock_missing_refuses_to_run(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, code_landlock=False, code_require_landlock=True)
    box = CodeSandbox.from_settings(settings)
    await box.start()
    try:
        result = await run(box, "open('ran.txt', 'w').write('x')")
        assert result.startswith("Not run: the sandbox is not available on this machine.")
        scratch = box.scratch_dir("s1")
        assert scratch is not None and not (scratch / "ran.txt").exists()
    finally:
        await box.stop()


async def test_cancellation_kills_the_run(sandbox: CodeSandbox) -> None:
    token = CancellationToken()
    sandbox.tool_for("s1")
    task = asyncio.ensure_future(
        run(sandbox, "import time, os\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(60)", token=token)
    )
    scratch = sandbox.scratch_dir("s1")
    assert scratch is not None
    for _ in range(100):
        if (scratch / "pid").exists() and (scratch / "pid").read_text():
            break
        await asyncio.sleep(0.05)
    pid = int((scratch / "pid").read_text())
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(pid)


async def test_release_and_stop_clean_up(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, code_timeout_s=30.0)
    box = CodeSandbox.from_settings(settings)
    with pytest.raises(RuntimeError):
        box.tool_for("early")
    await box.start()
    await run(box, "open('a.txt', 'w').write('1')", session="one")
    one = box.scratch_dir("one")
    assert one is not None and (one / "a.txt").exists()
    await box.release("one")
    assert not one.exists() and box.scratch_dir("one") is None

    box.tool_for("two")
    long_run = asyncio.ensure_future(
        run(box, "import time, os\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(60)", session="two")
    )
    two = box.scratch_dir("two")
    assert two is not None
    for _ in range(100):
        if (two / "pid").exists() and (two / "pid").read_text():
            break
        await asyncio.sleep(0.05)
    pid = int((two / "pid").read_text())
    started = time.monotonic()
    await box.stop()
    result = await asyncio.wait_for(long_run, 5)
    assert time.monotonic() - started < 5 and "Killed by signal SIGKILL" in result
    assert not _alive(pid)
    assert not any(settings.code_scratch_root.iterdir())  # type: ignore[union-attr]


def _alive(pid: int, grace_s: float = 2.0) -> bool:
    """True if the process still exists (and is not a zombie) after `grace_s`: SIGKILL is delivered
    asynchronously, so a process killed a moment ago may take a few milliseconds to die."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        if "State:\tZ" in status:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)


def test_settings_default_to_local(tmp_path: Path) -> None:
    assert ToolSettings(_env_file=None).code_executor == "local"
    assert CodeSandbox.from_settings(ToolSettings(_env_file=None, code_executor="docker")).mode == "sandbox"


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


def test_project_root_is_not_among_the_readable_paths() -> None:
    root = Path(__file__).resolve().parents[2]
    paths = [Path(p).resolve() for p in python_read_paths()]
    assert root not in paths and not any(root.is_relative_to(p) for p in paths)
