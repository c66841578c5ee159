"""The bubblewrap command line of one run, and the interpreter the sandbox can see. Standard library only.

What the command gives a run (each line is a bwrap option below):
- its own user, pid, network (only its own loopback), IPC, UTS and cgroup namespaces, no way to make more user
  namespaces (--disable-userns), a new terminal session, death with its parent;
- an unprivileged uid inside (65534) with no capabilities; when the server is root, bwrap itself is started
  as that uid, so outside the sandbox too it is a user that owns nothing but the run's own files and the
  kernel counts its processes against RLIMIT_NPROC (root's are never counted);
- a root filesystem that is an empty read-only tmpfs with only the system directories, a few files of /etc and
  the interpreter's directories bound read-only; a fresh /proc (only the run's processes), a minimal /dev;
- /scratch: a tmpfs capped at the run's disk budget (cwd and HOME; /tmp links into it), /dev/shm a small one;
- no environment but the one given (bwrap --clearenv); the supervisor and the code come in as read-only files
  copied from descriptors, so nothing of the server's tree is mounted.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox.budget import SHM_MB, SandboxBudget

SANDBOX_UID = 65534
SANDBOX_DIR = "/sandbox"  # the supervisor, confine.py and the code, read-only
SCRATCH = "/scratch"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types")
FALLBACK_PYTHONS = ("/usr/local/bin/python3", "/usr/bin/python3")
_PREFIX_PROBE = "import json, sys; print(json.dumps(sorted({sys.prefix, sys.base_prefix, sys.exec_prefix})))"


@dataclass(frozen=True)
class SandboxPython:
    """An interpreter as the sandbox runs it: its path and the host directories bound read-only for it."""

    executable: str
    mounts: tuple[str, ...]


def open_to_others(path: str) -> bool:
    """True when a user that is neither owner nor group member can reach and read `path` (each parent
    directory searchable, the file itself readable): what bwrap started as the sandbox uid needs to bind it."""
    real = Path(os.path.realpath(path))
    try:
        for parent in reversed(real.parents):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        return bool(os.stat(real).st_mode & stat.S_IROTH)
    except OSError:
        return False


def find_python(preferred: str | None, *, other_uid: bool) -> SandboxPython | None:
    """The interpreter for runs: `preferred`, else this server's, else the system's. With `other_uid` (the
    sandbox runs as another uid than the server) it must be readable by others: a Python under /root is not."""
    candidates = [preferred] if preferred else [sys.executable, *FALLBACK_PYTHONS]
    for candidate in candidates:
        if not candidate or not os.path.isfile(candidate) or not os.access(candidate, os.X_OK):
            continue
        if other_uid and not open_to_others(candidate):
            continue
        try:
            probe = subprocess.run(
                [candidate, "-E", "-s", "-c", _PREFIX_PROBE], capture_output=True, text=True, timeout=20, env={}
            )
            prefixes = [str(p) for p in json.loads(probe.stdout)]
        except (OSError, ValueError, subprocess.SubprocessError):
            continue
        dirs = {*prefixes, os.path.dirname(os.path.abspath(candidate)), os.path.dirname(os.path.realpath(candidate))}
        mounts = sorted(d for d in dirs if d not in ("/", "") and not _under_system_dirs(d))
        if other_uid and not all(open_to_others(d) for d in mounts):
            continue
        return SandboxPython(executable=os.path.abspath(candidate), mounts=tuple(_outermost(mounts)))
    return None


def bwrap_command(
    bwrap: str,
    python: SandboxPython,
    budget: SandboxBudget,
    *,
    data_fds: Mapping[str, int],
    env: Mapping[str, str],
    supervisor_config: Mapping[str, object],
) -> list[str]:
    """The whole bwrap invocation. `data_fds` maps a file name under /sandbox to a readable descriptor whose
    contents become that read-only file; the supervisor (sandbox_init.py) is the command."""
    command = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
    ]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    for path in ETC_FILES:
        command += ["--ro-bind-try", path, path]
    for path in python.mounts:
        command += ["--ro-bind", path, path]
    command += ["--proc", "/proc", "--dev", "/dev"]
    command += ["--size", str(SHM_MB * 1024 * 1024), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    command += ["--size", str(budget.disk_mb * 1024 * 1024), "--perms", "0700", "--tmpfs", SCRATCH]
    command += ["--symlink", f"{SCRATCH}/.tmp", "/tmp"]
    for name, fd in sorted(data_fds.items()):
        command += ["--perms", "0444", "--ro-bind-data", str(fd), f"{SANDBOX_DIR}/{name}"]
    command += ["--remount-ro", "/", "--chdir", SCRATCH, "--clearenv"]
    for key, value in sorted(env.items()):
        command += ["--setenv", key, value]
    command += [
        "--",
        python.executable,
        "-E",
        "-s",
        "-B",
        f"{SANDBOX_DIR}/sandbox_init.py",
        json.dumps(dict(supervisor_config), separators=(",", ":")),
    ]
    return command


def sandbox_environment(python: SandboxPython, passthrough: Mapping[str, str]) -> dict[str, str]:
    """The run's whole environment: fixed paths inside the sandbox plus the operator's harmless variables."""
    env = {
        "PATH": ":".join(dict.fromkeys([os.path.dirname(python.executable), "/usr/local/bin", "/usr/bin", "/bin"])),
        "HOME": SCRATCH,
        "TMPDIR": "/tmp",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "XDG_CACHE_HOME": f"{SCRATCH}/.tmp/cache",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{SCRATCH}/.tmp/matplotlib",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.update(passthrough)
    return env


def _under_system_dirs(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SYSTEM_DIRS if not os.path.islink(d))


def _outermost(paths: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(paths):
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept
