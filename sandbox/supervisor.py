"""The supervisor of one run, inside the bubblewrap sandbox (the command bwrap executes; standard library only).

    python -E -s -B /sandbox/sandbox_init.py '{"python": ..., "script": ..., "timeout_s": ..., fds and limits}'

It runs as the sandbox's unprivileged user, in the run's own namespaces, and:
1. closes every inherited descriptor but its own, makes itself non-dumpable (the run's code, the same uid,
   cannot ptrace it or open its /proc/PID/fd) and keeps its descriptors out of the code's reach (close-on-exec);
2. restores the session's files into /scratch from a tar stream (regular files and directories only, names
   that stay inside /scratch), inside the size-capped tmpfs, so a bad archive can only hurt this sandbox;
3. sets the run's limits on itself (inherited by everything it starts): address space per process, processes,
   CPU seconds, file size, open files, no core files, a lower priority; then Landlock where the kernel has it;
4. runs the code and waits for it (pidfd, no polling) until it exits or the timeout passes;
5. kills every other process of the run (kill(-1): setsid and double-forked children included), so nothing
   outlives the run and a run that ends early returns at once;
6. writes /scratch back as a tar stream (regular files and directories only) and reports one JSON status line.

Nothing here trusts the run's code: if the code kills this process, bubblewrap's pid 1 exits, the kernel kills
the whole pid namespace, and the server keeps the session's previous files.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import sys
import tarfile
import time
from typing import IO, Any

if __package__:
    from sandbox import confine
else:  # inside the sandbox, confine.py is mounted next to this file
    import confine  # type: ignore[import-not-found, no-redef]  # found on the script's directory at run time

SCRATCH = "/scratch"
PRIVATE_TMP = ".tmp"  # /tmp links here; not kept between runs
_PR_SET_DUMPABLE = 4
_KILL_WAIT_S = 2.0


def close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep and fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass
    for fd in keep:
        if fd > 2:
            os.set_inheritable(fd, False)


def restore(fd: int) -> str | None:
    """Unpack the session's files into /scratch; an error message, or None when all went well. Only regular
    files and directories with relative names that stay inside /scratch are taken (the same rules as
    tarfile's "data" filter, which this Python may predate); nothing else is ever created."""
    if fd < 0:
        return None
    root = os.path.realpath(SCRATCH)
    try:
        with os.fdopen(fd, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                target = os.path.realpath(os.path.join(root, member.name))
                if os.path.isabs(member.name) or not target.startswith(root + os.sep):
                    continue
                if member.isdir():
                    os.makedirs(target, mode=0o700, exist_ok=True)
                elif member.isreg():
                    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
                    source = archive.extractfile(member)
                    if source is None:
                        continue
                    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                    with source, os.fdopen(os.open(target, flags, 0o600), "wb") as sink:
                        while chunk := source.read(65536):
                            sink.write(chunk)
    except (OSError, tarfile.TarError) as exc:
        return f"the session's earlier files could not all be restored ({type(exc).__name__}: {exc})"
    return None


def save(fd: int) -> bool:
    """Write /scratch (regular files and directories, not the private tmp) as a tar stream to `fd`."""
    if fd < 0:
        return False

    def regular_only(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if not (info.isreg() or info.isdir()) or info.name == PRIVATE_TMP or info.name.startswith(PRIVATE_TMP + "/"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    try:
        with os.fdopen(fd, "wb") as stream, tarfile.open(fileobj=stream, mode="w|") as archive:
            for name in sorted(os.listdir(SCRATCH)):
                archive.add(os.path.join(SCRATCH, name), arcname=name, filter=regular_only)
    except (OSError, tarfile.TarError):
        return False
    return True


def set_run_limits(config: dict[str, Any]) -> None:
    confine.set_limits(
        memory_mb=int(config["memory_mb"]),
        cpu_s=int(config["cpu_s"]),
        file_mb=int(config["disk_mb"]),
        open_files=int(config["open_files"]),
    )
    processes = int(config["processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    try:
        os.nice(int(config["nice"]))
    except OSError:
        pass


def kill_everything_else() -> None:
    """SIGKILL every process of this user in the pid namespace but this one (pid 1 is never signalled)."""
    deadline = time.monotonic() + _KILL_WAIT_S
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return  # nobody left
        except PermissionError:
            return
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # our own dead children; the rest are reaped by pid 1
        time.sleep(0.001)  # a zombie still answers kill() until it is reaped


def run_code(python: str, script: str, timeout_s: float) -> tuple[int | None, bool, float]:
    """Run the script; its exit code (negative: killed by that signal), whether it timed out, its duration."""
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(python, [python, "-E", "-s", "-u", "-B", "-X", "utf8", script])
        finally:
            os._exit(127)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    remaining = timeout_s
    timed_out = False
    while remaining > 0 and not poller.poll(remaining * 1000):
        remaining = timeout_s - (time.monotonic() - started)
    if remaining <= 0:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    duration = time.monotonic() - started
    os.close(pidfd)
    code = os.waitstatus_to_exitcode(status)
    return code, timed_out, duration


def report(stream: IO[str], **fields: Any) -> None:
    stream.write(json.dumps(fields) + "\n")
    stream.flush()


def main() -> None:
    config: dict[str, Any] = json.loads(sys.argv[1])
    state_in, state_out, status_fd = int(config["state_in"]), int(config["state_out"]), int(config["status"])
    close_other_fds({state_in, state_out, status_fd} - {-1})
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    status = os.fdopen(status_fd, "w")
    if os.getpid() > 2:  # bwrap's init is 1 and this is its first child: kill(-1) must reach only this run
        report(status, exit_code=125, timed_out=False, error="the supervisor is not in its own pid namespace")
        sys.exit(125)
    restore_error = restore(state_in)
    os.makedirs(os.path.join(SCRATCH, PRIVATE_TMP), exist_ok=True)
    set_run_limits(config)
    landlock_abi = 0
    if config.get("landlock"):
        read_paths = ["/"]
        try:
            landlock_abi = confine.apply_landlock(SCRATCH, read_paths, extra_write=["/dev/shm"])
        except OSError:
            landlock_abi = 0
    code, timed_out, duration = run_code(config["python"], config["script"], float(config["timeout_s"]))
    kill_everything_else()
    saved = save(state_out)
    report(
        status,
        exit_code=code,
        timed_out=timed_out,
        duration_s=round(duration, 3),
        state_saved=saved,
        restore_error=restore_error,
        landlock_abi=landlock_abi,
    )


if __name__ == "__main__":
    main()
