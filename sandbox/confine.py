"""Confine this process, then exec the program given after ``--``: resource limits and, where the kernel has it,
Linux Landlock (filesystem writes only in the scratch directory, reads only of system and Python paths, no TCP,
no signals or abstract sockets outside the sandbox).

Run as a script, standard library only, so the sandbox image can ship it alone::

    python -E -s confine.py --scratch DIR [--memory-mb N] [--cpu-s N] [--file-mb N] [--read PATH]...
        [--allow-network] [--require-landlock] -- PROGRAM ARGS...

Landlock is unprivileged and cannot be undone by the confined process, not even by root. Where it is missing
(kernel older than 5.13, LSM disabled, a seccomp profile that blocks it) the limits still apply and the program
runs unconfined unless --require-landlock was given; exit status 126 reports that.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import sys
from collections.abc import Iterable, Sequence

# Syscall numbers are the same on every architecture (they were added after the syscall table unification).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_DIR = 1 << 7
_FS_MAKE_REG = 1 << 8
_FS_MAKE_SOCK = 1 << 9
_FS_MAKE_FIFO = 1 << 10
_FS_MAKE_BLOCK = 1 << 11
_FS_MAKE_SYM = 1 << 12
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_READ_RIGHTS = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR

# System locations a Python program needs to start and import the standard library and installed packages.
SYSTEM_READ_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/opt/sandbox")
# Character devices programs commonly open for reading and writing.
DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is not available."""
    try:
        libc = _libc()
        version = libc.syscall(
            ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION)
        )
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def _fs_rights_for(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def apply_landlock(
    scratch: str, read_paths: Iterable[str], *, allow_network: bool = False, extra_write: Iterable[str] = ()
) -> int:
    """Restrict this process (and everything it execs or forks) for good. Returns the ABI used, 0 if none.
    Reads beneath `read_paths`, everything beneath `scratch` and `extra_write`, device files read and write."""
    abi = landlock_abi()
    if abi < 1:
        return 0
    libc = _libc()
    handled_fs = _fs_rights_for(abi)
    handled_net = (_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 and not allow_network else 0
    scoped = (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0
    attr = _RulesetAttr(handled_fs, handled_net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(
        ctypes.c_long(_SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )
    if ruleset < 0:
        return 0
    try:

        def allow(path: str, rights: int) -> None:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                return  # a path that does not exist needs no rule
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_RIGHTS
                rule = _PathBeneathAttr(rights & handled_fs, fd)
                if (
                    libc.syscall(
                        ctypes.c_long(_SYS_ADD_RULE),
                        ctypes.c_int(ruleset),
                        ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule),
                        ctypes.c_uint32(0),
                    )
                    != 0
                ):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path})")
            finally:
                os.close(fd)

        for path in read_paths:
            allow(path, _READ_RIGHTS)
        for path in DEVICE_FILES:
            allow(path, _FS_READ_FILE | _FS_WRITE_FILE)
        allow(scratch, handled_fs)
        for path in extra_write:
            allow(path, handled_fs)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.syscall(ctypes.c_long(_SYS_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


def python_read_paths(executable: str = sys.executable) -> list[str]:
    """Where this interpreter, its standard library and its packages live. Entries of sys.path outside the
    interpreter's prefixes are left out on purpose: a path-style editable install puts the project root there,
    and the project root holds the server's .env."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = prefixes | {os.path.dirname(os.path.realpath(executable)), os.path.dirname(os.path.abspath(executable))}
    return sorted(paths)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Make sure the program starts with no capabilities, even as root: empty the bounding, ambient and
    inheritable sets, so exec grants none. (A root process with CAP_SYS_PTRACE could otherwise read the server's
    /proc/PID/environ despite Landlock.)"""
    libc = _libc()
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) == 0:
        for item in data:
            item.inheritable = 0
        libc.capset(ctypes.byref(header), data)
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past the last
            break


def set_limits(*, memory_mb: int, cpu_s: int, file_mb: int, open_files: int = 256) -> None:
    """Hard limits (soft = hard), so the program cannot raise them again."""
    limits = {
        resource.RLIMIT_CPU: cpu_s,
        resource.RLIMIT_FSIZE: file_mb * 1024 * 1024,
        resource.RLIMIT_NOFILE: open_files,
        resource.RLIMIT_CORE: 0,
    }
    if memory_mb > 0:
        limits[resource.RLIMIT_AS] = memory_mb * 1024 * 1024
    for which, value in limits.items():
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass  # e.g. a container whose hard limit is already lower


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--cpu-s", type=int, default=60)
    parser.add_argument("--file-mb", type=int, default=64)
    parser.add_argument("--read", action="append", default=[])
    parser.add_argument("--allow-network", action="store_true")
    parser.add_argument("--no-landlock", action="store_true")
    parser.add_argument("--require-landlock", action="store_true")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program = [p for p in args.program if p != "--"] if args.program[:1] == ["--"] else args.program
    if not program:
        parser.error("no program given after --")
    set_limits(memory_mb=args.memory_mb, cpu_s=args.cpu_s, file_mb=args.file_mb)
    drop_capabilities()
    abi = 0
    if not args.no_landlock:
        read_paths = [*SYSTEM_READ_PATHS, *python_read_paths(program[0]), *args.read]
        try:
            abi = apply_landlock(os.path.realpath(args.scratch), read_paths, allow_network=args.allow_network)
        except OSError as exc:
            print(f"sandbox: landlock failed: {exc}", file=sys.stderr)
            abi = 0
    if abi == 0 and args.require_landlock:
        print("sandbox: Landlock is required but not available on this kernel", file=sys.stderr)
        sys.exit(126)
    os.execv(program[0], program)


if __name__ == "__main__":
    main()
