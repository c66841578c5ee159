"""Run one Python snippet in a scratch directory: confined, time-limited, output-capped, with no secrets.

Standard library only: the sandbox service image ships this module and confine.py and nothing else of ours.

What a run gets:
- cwd, HOME and TMPDIR in its scratch directory; an environment built from scratch (PATH, HOME, locale, a few
  non-secret variables the operator lists), never the server's, so no API key, token, password or database URL;
- its own process group, killed (SIGKILL) at the timeout and when the run ends, so children die with it;
- hard resource limits (CPU seconds, address space, file size, open files) and no capabilities, even as root;
- Linux Landlock where the kernel has it (see confine.py): writes only inside the scratch directory, reads only
  of system and Python paths, no TCP, no signals to processes outside the sandbox;
- output (stdout and stderr interleaved) kept up to a byte limit, start and end, the rest counted and dropped.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

CONFINE_SCRIPT = Path(__file__).with_name("confine.py")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|PWD|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|DSN|DATABASE|URL", re.I)
_READ_CHUNK = 65536


def is_secret_name(name: str) -> bool:
    """True for variable names that may hold a secret (OPENAI_API_KEY, GITHUB_TOKEN, DATABASE_URL, ...)."""
    return bool(_SECRET_NAME.search(name))


def child_environment(
    scratch: Path, python: str, *, passthrough: Iterable[str] = (), base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of a run. Built up, never copied from the server: only `passthrough` names are
    taken from `base` (os.environ by default), and never one that looks like a secret."""
    base = os.environ if base is None else base
    scratch = scratch.resolve()
    env = {
        "PATH": os.pathsep.join(dict.fromkeys([os.path.dirname(python), "/usr/local/bin", "/usr/bin", "/bin"])),
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "TMP": str(scratch / "tmp"),
        "TEMP": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "XDG_CACHE_HOME": str(scratch / ".cache"),
        "XDG_CONFIG_HOME": str(scratch / ".config"),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(scratch / ".config" / "matplotlib"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for name in passthrough:
        if name in base and not is_secret_name(name):
            env[name] = base[name]
    return env


@dataclass(frozen=True)
class RunLimits:
    timeout_s: float = 30.0
    output_bytes: int = 64_000
    memory_mb: int = 1024
    file_mb: int = 64
    landlock: bool = True
    require_landlock: bool = False
    allow_network: bool = False


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    output: str
    timed_out: bool
    omitted_bytes: int
    duration_s: float

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def describe(self, timeout_s: float) -> str:
        """The result as the model should read it: what happened, then the output."""
        if self.timed_out:
            status = f"Stopped: the code ran longer than the {timeout_s:g} s limit and was killed."
        elif self.exit_code == 0:
            status = "Exit code 0 (success)."
        elif self.exit_code == 126 and "Landlock is required" in self.output:
            status = "Not run: the sandbox is not available on this machine."
        elif self.exit_code is not None and self.exit_code < 0:
            status = f"Killed by signal {_signal_name(-self.exit_code)}."
        else:
            status = f"Exit code {self.exit_code} (error)."
        output = self.output.strip("\n") or "(no output; use print() to show results)"
        return f"{status}\nOutput:\n{output}"


class OutputBuffer:
    """Keeps the first `limit` bytes and the last `limit // 4`, counting what falls in between."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit
        self._tail_limit = max(limit // 4, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self.omitted = 0

    def add(self, data: bytes) -> None:
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        overflow = len(self._tail) - self._tail_limit
        if overflow > 0:
            del self._tail[:overflow]
            self.omitted += overflow

    def text(self) -> str:
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.omitted:
            return f"{head}\n… [{self.omitted:,} bytes of output omitted] …\n{tail}"
        return head + tail


def kill_group(pid: int) -> None:
    """SIGKILL the process group a run leads (its children included); quiet when it is already gone."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def run_python(
    code: str,
    scratch: Path,
    limits: RunLimits,
    *,
    python: str | None = None,
    passthrough_env: Iterable[str] = (),
    extra_read_paths: Iterable[str] = (),
    on_start: Callable[[int], None] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> RunResult:
    """Run `code` with `python` (default: this interpreter) in `scratch`. Cancelling the call kills the run."""
    python = python or sys.executable
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "tmp").mkdir(exist_ok=True)
    script = scratch / f"_run_{uuid.uuid4().hex[:12]}.py"
    script.write_text(code, encoding="utf-8")
    command = [
        python,
        "-E",
        "-s",
        str(CONFINE_SCRIPT),
        "--scratch",
        str(scratch.resolve()),
        "--memory-mb",
        str(limits.memory_mb),
        "--cpu-s",
        str(math.ceil(limits.timeout_s) + 1),
        "--file-mb",
        str(limits.file_mb),
    ]
    if not limits.landlock:
        command.append("--no-landlock")
    if limits.require_landlock:
        command.append("--require-landlock")
    if limits.allow_network:
        command.append("--allow-network")
    for path in extra_read_paths:
        command += ["--read", str(path)]
    command += ["--", python, "-E", "-s", "-u", "-B", "-X", "utf8", script.name]

    buffer = OutputBuffer(limits.output_bytes)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=scratch,
        env=child_environment(scratch, python, passthrough=passthrough_env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    if on_start is not None:
        on_start(process.pid)
    reader = asyncio.ensure_future(_pump(process.stdout, buffer))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(process.wait(), limits.timeout_s)
        except TimeoutError:
            timed_out = True
            kill_group(process.pid)
            await process.wait()
        kill_group(process.pid)  # children it left behind in its group
        try:
            await asyncio.wait_for(reader, 2.0)
        except TimeoutError:
            reader.cancel()  # a child that left the group still holds the pipe; stop reading
    except asyncio.CancelledError:
        kill_group(process.pid)
        reader.cancel()
        raise
    finally:
        if on_exit is not None:
            on_exit(process.pid)
        script.unlink(missing_ok=True)
    return RunResult(
        exit_code=process.returncode,
        output=buffer.text(),
        timed_out=timed_out,
        omitted_bytes=buffer.omitted,
        duration_s=round(time.monotonic() - started, 3),
    )


async def _pump(stream: asyncio.StreamReader | None, buffer: OutputBuffer) -> None:
    if stream is None:
        return
    while chunk := await stream.read(_READ_CHUNK):
        buffer.add(chunk)


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return str(number)
    meaning = {
        "SIGXCPU": "CPU time limit reached",
        "SIGKILL": "killed, often for using too much memory",
        "SIGSEGV": "crashed",
        "SIGXFSZ": "file size limit reached",
    }.get(name)
    return f"{name} ({meaning})" if meaning else name
