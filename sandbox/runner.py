"""The code sandbox service: runs the Developer's Python snippets inside the `sandbox` container.

Standard library only (plus the stdlib-only sandbox modules of tools/, copied into the image). Each run goes
through the same bubblewrap runner as the app's own default executor (sandbox/run.py), with the same
budget read from the same CODE_* variables; the container (no network, read-only root, no secrets) is a second
wall around it. The session's files are kept between runs as one archive per session under SANDBOX_SCRATCH.

    POST /run      {"session_id": str, "code": str, "timeout_s": float}  -> RunResult as JSON
    POST /release  {"session_id": str}                                   -> {"released": bool}
    GET  /health                                                         -> {"status", "ok", "executor", "detail"}

Without a working bubblewrap /health says so (ok: false) and /run answers 503: the service never runs code
unconfined.

Environment: SANDBOX_HOST (0.0.0.0), SANDBOX_PORT (8080), SANDBOX_SCRATCH (/scratch), SANDBOX_MAX_TIMEOUT_S (120),
SANDBOX_MAX_CODE_BYTES (200000), SANDBOX_MAX_CONCURRENT (2), SANDBOX_LANDLOCK (1), CODE_BWRAP_PATH (bwrap),
CODE_PYTHON (this interpreter), and the run budget: CODE_TIMEOUT_S, CODE_MEMORY_MB, CODE_MAX_PROCESSES,
CODE_DISK_MB, CODE_OUTPUT_MAX_BYTES (sandbox/budget.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make `tools` importable from the directory above
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.budget import SandboxBudget
from sandbox.isolation import Isolation, probe_bubblewrap
from sandbox.processes import kill_group
from sandbox.run import BwrapRunner

T = TypeVar("T")
MAX_BODY_BYTES = 1_000_000
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class RunnerConfig:
    scratch_root: Path
    max_timeout_s: float = 120.0
    max_code_bytes: int = 200_000
    budget: SandboxBudget = SandboxBudget()
    max_concurrent: int = 2
    queue_wait_s: float = 30.0
    bwrap_path: str = "bwrap"
    python: str | None = None
    landlock: bool = True

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RunnerConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            scratch_root=Path(env.get("SANDBOX_SCRATCH", "/scratch")),
            max_timeout_s=float(env.get("SANDBOX_MAX_TIMEOUT_S", "120")),
            max_code_bytes=int(env.get("SANDBOX_MAX_CODE_BYTES", "200000")),
            budget=SandboxBudget.from_env(env),
            max_concurrent=int(env.get("SANDBOX_MAX_CONCURRENT", "2")),
            bwrap_path=env.get("CODE_BWRAP_PATH", "bwrap"),
            python=env.get("CODE_PYTHON") or None,
            landlock=env.get("SANDBOX_LANDLOCK", "1") not in ("0", "false", "no"),
        )


class Runner:
    """Session bookkeeping shared by the request threads; `isolation` found once at start."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        self._lock = threading.Lock()
        self._running: dict[str, set[int]] = {}
        self._session_locks: dict[str, threading.Lock] = {}  # one run at a time per session (its archive)
        config.scratch_root.mkdir(parents=True, exist_ok=True)
        self.isolation: Isolation
        self._bwrap: BwrapRunner | None
        self.isolation, self._bwrap = _in_own_thread(
            lambda: asyncio.run(
                probe_bubblewrap(config.bwrap_path, config.python, config.budget, landlock=config.landlock)
            )
        )

    def scratch_for(self, session_id: str) -> Path:
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:16]
        return self.config.scratch_root / f"s-{digest}"

    def run(self, session_id: str, code: str, timeout_s: float) -> dict[str, Any] | None:
        """Run one snippet; None when every slot stayed busy for queue_wait_s."""
        if self._bwrap is None:
            raise RuntimeError("no isolation")
        with self._lock:
            session_lock = self._session_locks.setdefault(session_id, threading.Lock())
        if not session_lock.acquire(timeout=self.config.queue_wait_s):
            return None
        if not self._slots.acquire(timeout=self.config.queue_wait_s):
            session_lock.release()
            return None
        try:
            scratch = self.scratch_for(session_id)
            scratch.mkdir(parents=True, exist_ok=True)
            result = asyncio.run(
                self._bwrap.run(
                    code,
                    scratch / "files.tar",
                    budget=self.config.budget.with_timeout(timeout_s),
                    on_start=lambda pid: self._track(session_id, pid, True),
                    on_exit=lambda pid: self._track(session_id, pid, False),
                )
            )
            return {**result.to_json(), "timeout_s": timeout_s}
        finally:
            self._slots.release()
            session_lock.release()

    def release(self, session_id: str) -> bool:
        with self._lock:
            pids = self._running.pop(session_id, set())
            self._session_locks.pop(session_id, None)
        for pid in pids:
            kill_group(pid)
        scratch = self.scratch_for(session_id)
        existed = scratch.exists()
        shutil.rmtree(scratch, ignore_errors=True)
        return existed or bool(pids)

    def _track(self, session_id: str, pid: int, running: bool) -> None:
        with self._lock:
            pids = self._running.setdefault(session_id, set())
            if running:
                pids.add(pid)
            else:
                pids.discard(pid)


def _in_own_thread(work: Callable[[], T]) -> T:
    """Run `work` on a new thread and wait: asyncio.run works there even when the caller has a running loop."""
    box: list[T] = []
    thread = threading.Thread(target=lambda: box.append(work()), name="sandbox-probe")
    thread.start()
    thread.join()
    if not box:
        raise RuntimeError("the bubblewrap probe failed")
    return box[0]


class Handler(BaseHTTPRequestHandler):
    server_version = "sandbox-runner/1"
    runner: Runner  # set on the subclass make_server builds

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("SANDBOX_ACCESS_LOG"):
            super().log_message(format, *args)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/health":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        isolation = self.runner.isolation
        self._reply(
            HTTPStatus.OK,
            {
                "status": "ok" if isolation.ok else "degraded",
                "ok": isolation.ok,
                "executor": isolation.executor,
                "detail": isolation.detail,
            },
        )

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._json_body()
        if body is None:
            return
        session_id = body.get("session_id")
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": "session_id: 1-128 of A-Z a-z 0-9 _ . : -"})
        if path == "/release":
            return self._reply(HTTPStatus.OK, {"released": self.runner.release(session_id)})
        if path != "/run":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        code = body.get("code")
        if not isinstance(code, str) or not code.strip():
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": "code: a non-empty string"})
        if len(code.encode()) > self.runner.config.max_code_bytes:
            return self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"code is over {self.runner.config.max_code_bytes} bytes"},
            )
        timeout = body.get("timeout_s", 30)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": "timeout_s: a positive number"})
        if not self.runner.isolation.ok:
            return self._reply(
                HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"no isolation: {self.runner.isolation.detail}"}
            )
        result = self.runner.run(session_id, code, min(float(timeout), self.runner.config.max_timeout_s))
        if result is None:
            return self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the sandbox is busy; try again"})
        self._reply(HTTPStatus.OK, result)

    def _json_body(self) -> dict[str, Any] | None:
        length = self.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "a JSON body with Content-Length is required"})
            return None
        try:
            data = json.loads(self.rfile.read(int(length)) or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "the body must be a JSON object"})
            return None
        return data

    def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(host: str, port: int, config: RunnerConfig) -> ThreadingHTTPServer:
    runner = Runner(config)
    handler = type("BoundHandler", (Handler,), {"runner": runner})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    config = RunnerConfig.from_env()
    server = make_server(os.environ.get("SANDBOX_HOST", "0.0.0.0"), int(os.environ.get("SANDBOX_PORT", "8080")), config)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    isolation = server.RequestHandlerClass.runner.isolation  # type: ignore[attr-defined]  # set by make_server
    print(
        f"sandbox runner on {server.server_address}, scratch {config.scratch_root}, "
        f"{'isolated' if isolation.ok else 'NOT ISOLATED, runs refused'}: {isolation.detail}",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
