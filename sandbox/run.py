"""Run one snippet in a bubblewrap sandbox with one budget, and carry the session's files across runs.
Standard library only (the sandbox service image ships it).

The session's files live on the host only as a tar archive (`state`), never unpacked there: the supervisor
inside the sandbox unpacks it into the run's tmpfs and packs /scratch again at the end, so whatever the code
puts in its files (links, odd names) is only ever interpreted inside a sandbox. The archive read back is capped
at the disk budget and replaces the old one only when the supervisor reports it complete.

Descriptors handed to bwrap: the supervisor, confine.py and the code as memfds (bwrap copies them into
read-only files), the state in and out, and a status pipe; stdout and stderr of the code share one pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from sandbox import confine
from sandbox import supervisor as sandbox_init
from sandbox.budget import SandboxBudget
from sandbox.bwrap import SANDBOX_DIR, SANDBOX_UID, SandboxPython, bwrap_command, sandbox_environment
from sandbox.processes import OutputBuffer, RunResult

T = TypeVar("T")
_CHUNK = 65536
_STATUS_MAX = 65536
_SETUP_ALLOWANCE_S = 15.0  # restoring and saving the session's files, beyond the code's own time
_STATE_OVERHEAD = 4 * 1024 * 1024  # tar headers and padding on top of the files themselves
_BWRAP_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}  # bwrap's own (and its pid 1's) environment: nothing else


@dataclass(frozen=True)
class BwrapRunner:
    """Everything fixed about how runs start: the bwrap binary, the interpreter, the budget."""

    bwrap: str
    python: SandboxPython
    budget: SandboxBudget
    landlock: bool = True
    passthrough_env: Mapping[str, str] | None = None

    @property
    def drops_to_sandbox_uid(self) -> bool:
        """True when bwrap itself starts as the sandbox uid (only root may switch)."""
        return os.geteuid() == 0

    async def run(
        self,
        code: str,
        state: Path | None = None,
        *,
        budget: SandboxBudget | None = None,
        on_start: Callable[[int], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> RunResult:
        """Run `code`; with `state`, restore the session's files from that archive and save them back to it.
        Cancelling the call kills the whole sandbox."""
        budget = budget or self.budget
        started = time.monotonic()
        with _descriptors(code, state) as fds:
            config = {
                "python": self.python.executable,
                "script": f"{SANDBOX_DIR}/main.py",
                "timeout_s": budget.timeout_s,
                "memory_mb": budget.memory_per_process_mb,
                "processes": budget.process_limit,
                "cpu_s": budget.cpu_s_per_process,
                "disk_mb": budget.disk_mb,
                "open_files": budget.open_files,
                "nice": budget.nice,
                "landlock": self.landlock,
                "state_in": fds.state_in_child,
                "state_out": fds.state_out_child,
                "status": fds.status_child,
            }
            command = bwrap_command(
                self.bwrap,
                self.python,
                budget,
                data_fds=fds.data,
                env=sandbox_environment(self.python, dict(self.passthrough_env or {})),
                supervisor_config=config,
            )
            if self.drops_to_sandbox_uid:
                # setpriv (util-linux), not Popen's user=/group=: uvloop, which uvicorn runs on, refuses those.
                uid = str(SANDBOX_UID)
                command = ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--", *command]
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=_BWRAP_ENV,
                pass_fds=fds.child_ends(),
                start_new_session=True,
            )
            fds.close_child_ends()
            if on_start is not None:
                on_start(process.pid)
            output = OutputBuffer(budget.output_bytes)
            state_cap = budget.disk_mb * 1024 * 1024 + _STATE_OVERHEAD
            status_pipe, state_out, state_in = fds.take_parent_ends()  # file objects: closed even if never read
            status_task = asyncio.ensure_future(_read_fd(status_pipe, _STATUS_MAX))
            state_task = asyncio.ensure_future(_read_fd_to_file(state_out, _part_path(state), state_cap))
            tasks: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(_pump_output(process.stdout, output)),
                status_task,
                state_task,
                asyncio.ensure_future(_write_fd(state_in, state)),
            ]
            killed = False
            try:
                try:
                    await asyncio.wait_for(process.wait(), budget.timeout_s + _SETUP_ALLOWANCE_S)
                except TimeoutError:
                    killed = True
                    _kill(process.pid)
                    await process.wait()
                done, pending = await asyncio.wait(tasks, timeout=5.0)
                for task in pending:
                    task.cancel()
            except asyncio.CancelledError:
                _kill(process.pid)
                for task in tasks:
                    task.cancel()
                for pipe in (status_pipe, state_out, state_in):
                    if pipe is not None:
                        pipe.close()
                if state is not None:
                    _keep_state(state, False)
                raise
            finally:
                if on_exit is not None:
                    on_exit(process.pid)
        status_bytes = _result_or(status_task, b"")
        saved_size = _result_or(state_task, None)
        status = _parse_status(status_bytes)
        if state is not None:
            _keep_state(state, status.get("state_saved") is True and saved_size is not None)
        if status:
            exit_code = status.get("exit_code")
            timed_out = bool(status.get("timed_out"))
            note = status.get("error") or status.get("restore_error")
        else:  # the supervisor died (killed by the code, or by us at the outer deadline)
            exit_code, timed_out = process.returncode, killed
            note = None if killed else "the sandbox ended before reporting (its supervisor was killed)"
        text = output.text()
        if isinstance(note, str) and note:
            text = f"[sandbox: {note}]\n{text}"
        return RunResult(
            exit_code=exit_code if isinstance(exit_code, int) else None,
            output=text,
            timed_out=timed_out,
            omitted_bytes=output.omitted,
            duration_s=round(time.monotonic() - started, 3),
        )


class _Descriptors:
    def __init__(self, code: str, state: Path | None) -> None:
        self.data = {
            "sandbox_init.py": _memfd("sandbox_init", Path(sandbox_init.__file__).read_bytes()),
            "confine.py": _memfd("confine", Path(confine.__file__).read_bytes()),
            "main.py": _memfd("main", code.encode("utf-8", errors="surrogateescape")),
        }
        self.status_parent, self.status_child = os.pipe()
        self.state_out_parent, self.state_out_child = os.pipe() if state is not None else (-1, -1)
        self.state_in_parent, self.state_in_child = -1, -1
        if state is not None and state.is_file():
            self.state_in_child, self.state_in_parent = os.pipe()

    def child_ends(self) -> list[int]:
        ends = [*self.data.values(), self.status_child, self.state_out_child, self.state_in_child]
        return [fd for fd in ends if fd >= 0]

    def close_child_ends(self) -> None:
        for fd in self.child_ends():
            os.close(fd)
        self.data = {}
        self.status_child = self.state_out_child = self.state_in_child = -1

    def take_parent_ends(self) -> tuple[BinaryIO, BinaryIO | None, BinaryIO | None]:
        """The parent's ends as unbuffered file objects, which the caller now owns."""
        ends = (
            os.fdopen(self.status_parent, "rb", buffering=0),
            os.fdopen(self.state_out_parent, "rb", buffering=0) if self.state_out_parent >= 0 else None,
            os.fdopen(self.state_in_parent, "wb", buffering=0) if self.state_in_parent >= 0 else None,
        )
        self.status_parent = self.state_out_parent = self.state_in_parent = -1
        return ends

    def close_all(self) -> None:
        for fd in [*self.child_ends(), self.status_parent, self.state_out_parent, self.state_in_parent]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


@contextlib.contextmanager
def _descriptors(code: str, state: Path | None) -> Iterator[_Descriptors]:
    fds = _Descriptors(code, state)
    try:
        yield fds
    finally:
        fds.close_all()


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # not close-on-exec: bwrap reads it
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _kill(pid: int) -> None:
    """SIGKILL bwrap's process group; --die-with-parent takes the sandbox's pid 1, and so the namespace, along."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _pump_output(stream: asyncio.StreamReader | None, buffer: OutputBuffer) -> None:
    if stream is None:
        return
    while chunk := await stream.read(_CHUNK):
        buffer.add(chunk)


async def _reader(pipe: BinaryIO) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader, transport


async def _read_fd(pipe: BinaryIO, limit: int) -> bytes:
    reader, transport = await _reader(pipe)
    data = bytearray()
    try:
        while chunk := await reader.read(_CHUNK):
            data += chunk[: max(limit - len(data), 0)]
    finally:
        transport.close()
    return bytes(data)


async def _read_fd_to_file(pipe: BinaryIO | None, path: Path | None, limit: int) -> int | None:
    """Copy the state stream into `path`; its size, or None when there is none or it went over `limit`."""
    if pipe is None or path is None:
        return None
    reader, transport = await _reader(pipe)
    size = 0
    try:
        with await asyncio.to_thread(path.open, "wb") as sink:
            while chunk := await reader.read(_CHUNK):
                size += len(chunk)
                if size <= limit:
                    sink.write(chunk)
    finally:
        transport.close()
    return size if size <= limit else None


async def _write_fd(pipe: BinaryIO | None, state: Path | None) -> None:
    if pipe is None or state is None:
        return
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        with await asyncio.to_thread(state.open, "rb") as source:
            while chunk := source.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
    except (ConnectionError, OSError):
        pass  # the sandbox ended without reading it all
    finally:
        writer.close()


def _result_or(task: asyncio.Future[T], default: T) -> T:
    if not task.done() or task.cancelled() or task.exception() is not None:
        return default
    return task.result()


def _part_path(state: Path | None) -> Path | None:
    return state.with_name(state.name + ".part") if state is not None else None


def _keep_state(state: Path, complete: bool) -> None:
    part = _part_path(state)
    assert part is not None
    if complete:
        os.replace(part, state)
    else:
        part.unlink(missing_ok=True)


def _parse_status(data: bytes) -> dict[str, object]:
    try:
        value = json.loads(data.decode("utf-8", errors="replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}
