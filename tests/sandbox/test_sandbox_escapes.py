"""Escape attempts against the code sandbox, as a prompt-injected model would try them. Each test fails if its
attack works: the host-side evidence (a file's mode, a listener that got a connection, a process still alive,
bytes allocated) is checked, not only what the code printed.

Every attack runs on both paths: the app's own bubblewrap executor and the sandbox service (sandbox/runner.py,
which the docker compose `sandbox` service runs), with the same budget; and once more with Landlock switched off
(as on kernels before 5.13), to show the namespaces hold on their own."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from autogen_core import CancellationToken

from sandbox.budget import SandboxBudget
from sandbox.runner import RunnerConfig, make_server
from tests.support.fixture_server import FixtureServer, make_settings
from tests.support.paths import ROOT
from tools.code_execution import CodeSandbox
from tools.config import ToolSettings

SECRET = "sk-" + "escape-test-secret-0451"
BUDGET = SandboxBudget(timeout_s=8.0, memory_mb=1024, max_processes=8, disk_mb=64)
pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def budget_settings(**extra: object) -> dict[str, Any]:
    return {
        "code_timeout_s": BUDGET.timeout_s,
        "code_memory_mb": BUDGET.memory_mb,
        "code_max_processes": BUDGET.max_processes,
        "code_disk_mb": BUDGET.disk_mb,
        **extra,
    }


@pytest.fixture(params=["bubblewrap", "bubblewrap-without-landlock", "service"])
async def box(
    request: pytest.FixtureRequest, fixture_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CodeSandbox]:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # the server's environment holds the key, as in production
    server = None
    if request.param.startswith("bubblewrap"):
        landlock = request.param == "bubblewrap"
        settings = make_settings(fixture_server, tmp_path, **budget_settings(code_landlock=landlock))
    else:
        config = RunnerConfig(scratch_root=tmp_path / "service", max_timeout_s=BUDGET.timeout_s, budget=BUDGET)
        server = make_server("127.0.0.1", 0, config)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = ToolSettings(
            _env_file=None,
            code_executor="sandbox",
            sandbox_url=url,
            sandbox_start_timeout_s=5.0,
            **budget_settings(),
        )
    sandbox = CodeSandbox.from_settings(settings)
    await sandbox.start()
    assert sandbox.isolation.ok, sandbox.isolation.detail
    if request.param == "bubblewrap-without-landlock":
        assert "no Landlock" in sandbox.isolation.detail
    yield sandbox
    await sandbox.stop()
    if server is not None:
        server.shutdown()
        server.server_close()


async def run(sandbox: CodeSandbox, code: str, session: str = "attacker") -> str:
    tool = sandbox.tool_for(session)
    return tool.return_value_as_string(await tool.run_json({"code": code}, CancellationToken()))


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line holds `marker` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (
                marker.encode() in (entry / "cmdline").read_bytes()
                and "State:\tZ" not in (entry / "status").read_text()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class LoopLag:
    """Measures the event loop's worst delay while a run goes on: the server keeps serving."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        async def tick() -> None:
            while True:
                before = time.monotonic()
                await asyncio.sleep(0.05)
                self.worst = max(self.worst, time.monotonic() - before - 0.05)

        self._task = asyncio.ensure_future(tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


# --- files and metadata ------------------------------------------------------------------------------------


async def test_chmod_chown_utime_outside_scratch_are_refused(box: CodeSandbox, tmp_path: Path) -> None:
    env_file, runs_db = tmp_path / ".env", tmp_path / "runs.db"
    env_file.write_text(f"OPENAI_API_KEY={SECRET}\n")
    runs_db.write_bytes(b"SQLite format 3\0")
    for path in (env_file, runs_db):
        path.chmod(0o600)
        os.utime(path, (1_000_000, 1_000_000))
    targets = [str(env_file), str(runs_db), "/usr/bin/env", "/etc/ld.so.cache", "/sandbox/main.py"]
    code = (
        "import os\n"
        f"for path in {targets!r}:\n"
        "    for name, attempt in (('chmod', lambda: os.chmod(path, 0o666)), ('chown', lambda: os.chown(path, 0, 0)),\n"
        "                          ('utime', lambda: os.utime(path, (0, 0))), ('open', lambda: open(path, 'a'))):\n"
        "        try:\n"
        "            attempt(); print('ALLOWED', name, path)\n"
        "        except OSError as exc:\n"
        "            print('refused', name, path, type(exc).__name__)\n"
    )
    result = await run(box, code)
    assert "ALLOWED" not in result and result.count("refused") == 4 * len(targets), result
    for path in (env_file, runs_db):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_mtime == 1_000_000
        assert path.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(os.stat("/usr/bin/env").st_mode) == 0o755


async def test_server_files_and_environment_are_not_readable(box: CodeSandbox, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"OPENAI_API_KEY={SECRET}\n")
    code = (
        "import glob, os\n"
        f"paths = [{str(env_file)!r}, {str(ROOT / 'pyproject.toml')!r}, '/proc/1/environ', '/etc/shadow',\n"
        "         *glob.glob('/proc/[0-9]*/environ'), '/proc/self/environ']\n"
        "for path in paths:\n"
        "    try:\n"
        "        data = open(path, 'rb').read(); print('READ', path, data)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
        "print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
    )
    result = await run(box, code)
    assert SECRET not in result, result
    assert f"refused {env_file} FileNotFoundError" in result and "pyproject.toml FileNotFoundError" in result
    pids = [int(p) for p in result.split("pids [", 1)[1].split("]", 1)[0].split(",")]
    assert len(pids) <= 4 and max(pids) < 20, pids  # its own pid namespace: bwrap's init, supervisor, code


async def test_signals_cannot_reach_host_processes(box: CodeSandbox) -> None:
    victim = subprocess.Popen(["sleep", "60"])
    try:
        code = (
            "import os, signal\n"
            f"for pid in ({victim.pid}, {os.getpid()}, -1):\n"
            "    try:\n"
            "        os.kill(pid, signal.SIGKILL); print('sent', pid)\n"
            "    except OSError as exc:\n"
            "        print('refused', pid, type(exc).__name__)\n"
        )
        result = await run(box, code)
        await asyncio.sleep(0.2)
        assert victim.poll() is None, f"a host process was killed from the sandbox: {result}"
        assert f"refused {victim.pid} ProcessLookupError" in result
    finally:
        victim.kill()
        victim.wait()


# --- sockets -----------------------------------------------------------------------------------------------


@pytest.fixture
def unix_listeners(tmp_path: Path) -> Iterator[tuple[str, str, list[socket.socket]]]:
    """A pathname and an abstract Unix socket on the host, listening; accepted connections land in the list."""
    path = str(tmp_path / "server.sock")
    abstract = f"\0research-team-test-{uuid.uuid4().hex[:8]}"
    servers, accepted = [], []
    for address in (path, abstract):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(address)
        server.listen()
        server.settimeout(0.05)
        servers.append(server)
    os.chmod(path, 0o777)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            for server in servers:
                try:
                    accepted.append(server.accept()[0])
                except OSError:
                    pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield path, abstract, accepted
    stop.set()
    thread.join()
    for item in servers + accepted:
        item.close()


async def test_unix_sockets_of_the_host_are_out_of_reach(
    box: CodeSandbox, unix_listeners: tuple[str, str, list[socket.socket]]
) -> None:
    path, abstract, accepted = unix_listeners
    code = (
        "import socket\n"
        f"for address in ({path!r}, {abstract!r}):\n"
        "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        "    try:\n"
        "        s.connect(address); s.sendall(b'hello'); print('CONNECTED', repr(address))\n"
        "    except OSError as exc:\n"
        "        print('refused', repr(address), type(exc).__name__)\n"
    )
    result = await run(box, code)
    await asyncio.sleep(0.2)
    assert accepted == [], f"the sandbox reached a host Unix socket: {result}"
    assert result.count("refused") == 2, result


async def test_tcp_and_udp_to_the_host_loopback_are_refused(box: CodeSandbox, fixture_server: FixtureServer) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    before = len(fixture_server.requests)
    try:
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {fixture_server.port}), timeout=2).sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
            "    print('TCP CONNECTED')\n"
            "except OSError as exc:\n"
            "    print('tcp refused', type(exc).__name__)\n"
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "try:\n"
            f"    u.sendto(b'leak', ('127.0.0.1', {udp.getsockname()[1]})); print('udp sent (into its own loopback)')\n"
            "except OSError as exc:\n"
            "    print('udp refused', type(exc).__name__)\n"
            "print(socket.if_nameindex())\n"
        )
        result = await run(box, code)
        assert "tcp refused" in result and "TCP CONNECTED" not in result, result
        assert "[(1, 'lo')]" in result  # a network namespace with its own loopback only
        with pytest.raises(TimeoutError):
            udp.recvfrom(100)
        assert len(fixture_server.requests) == before
    finally:
        udp.close()


# --- processes and time ------------------------------------------------------------------------------------


async def test_setsid_double_fork_does_not_outlive_the_run_and_an_early_end_returns_at_once(
    box: CodeSandbox,
) -> None:
    marker = f"escapee-{uuid.uuid4().hex[:10]}"
    code = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}])\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\n"
        "print('parent done')\n"
    )
    started = time.monotonic()
    result = await run(box, code)
    elapsed = time.monotonic() - started
    assert "parent done" in result and "Exit code 0" in result, result
    assert elapsed < BUDGET.timeout_s / 2, f"the run waited for its timeout ({elapsed:.1f} s)"
    await asyncio.sleep(0.5)
    assert processes_with(marker) == [], "a double-forked child survived its run"


async def test_a_timeout_kills_the_whole_run(box: CodeSandbox) -> None:
    marker = f"spinner-{uuid.uuid4().hex[:10]}"
    code = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', 'while True: pass', {marker!r}])\n"
    started = time.monotonic()
    result = await run(box, code)
    assert result.startswith(f"Stopped: the code ran longer than the {BUDGET.timeout_s:g} s limit"), result
    assert time.monotonic() - started < BUDGET.timeout_s + 3
    await asyncio.sleep(0.3)
    assert processes_with(marker) == []


async def test_a_thousand_forks_are_capped(box: CodeSandbox) -> None:
    marker = f"forker-{uuid.uuid4().hex[:10]}"
    code = (
        "import os, sys, time\n"
        "made = 0\n"
        "for _ in range(1000):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])\n"
        "    made += 1\n"
        "time.sleep(0.5)\n"
        "print('forks', made)\n"
    )
    async with LoopLag() as lag:
        result = await run(box, code)
        alive_during = len(processes_with(marker))
    made = int(result.split("forks ", 1)[1].split()[0])
    assert made < BUDGET.max_processes, result
    assert alive_during <= BUDGET.max_processes
    assert lag.worst < 1.0, f"the server stalled {lag.worst:.2f} s"
    await asyncio.sleep(0.3)
    assert processes_with(marker) == []


async def test_four_children_of_700_mb_stay_within_the_memory_budget(box: CodeSandbox) -> None:
    code = (
        "import os\n"
        "children = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            block = bytearray(700 * 1024 * 1024)\n"
        "            block[::4096] = b'x' * len(block[::4096])\n"
        "            os._exit(0)\n"
        "        except MemoryError:\n"
        "            os._exit(3)\n"
        "    children.append(pid)\n"
        "codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]\n"
        "print('allocated', sum(700 for c in codes if c == 0), 'MB', codes)\n"
    )
    async with LoopLag() as lag:
        result = await run(box, code)
    allocated = int(result.split("allocated ", 1)[1].split()[0])
    assert allocated <= BUDGET.memory_mb, f"the run held {allocated} MB, over its {BUDGET.memory_mb} MB budget"
    assert lag.worst < 1.0
    assert "Exit code 0" in await run(box, "print('still serving')")


async def test_filling_the_disk_stops_at_the_quota(box: CodeSandbox) -> None:
    code = (
        "import os\n"
        "written = 0\n"
        "chunk = b'x' * (1024 * 1024)\n"
        "try:\n"
        "    for i in range(10_000):\n"
        "        with open(f'fill-{i % 50}.bin', 'ab') as f:\n"
        "            f.write(chunk)\n"
        "        written += 1\n"
        "except OSError as exc:\n"
        "    print('stopped', type(exc).__name__, exc.errno)\n"
        "print('written', written, 'MB')\n"
    )
    async with LoopLag() as lag:
        result = await run(box, code)
    written = int(result.split("written ", 1)[1].split()[0])
    assert "stopped" in result and written <= BUDGET.disk_mb, result
    assert lag.worst < 1.0
    assert "Exit code 0" in await run(box, "print('still serving')")
