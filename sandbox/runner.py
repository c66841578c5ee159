"""The code sandbox service: runs the Developer's Python snippets inside the `sandbox` container.

Standard library only (plus tools/process_runner.py and tools/confine.py, copied into the image). The container
gives the isolation (no network, read-only root, no secrets, CPU/memory/pid limits, tmpfs scratch); this service
adds per-session scratch directories under SANDBOX_SCRATCH, a timeout, an output cap and a concurrency limit.

    POST /run      {"session_id": str, "code": str, "timeout_s": float}  -> RunResult as JSON
    POST /release  {"session_id": str}                                   -> {"released": bool}
    GET  /health                                                         -> {"status": "ok", ...}

Environment: SANDBOX_HOST (0.0.0.0), SANDBOX_PORT (8080), SANDBOX_SCRATCH (/scratch), SANDBOX_MAX_TIMEOUT_S (120),
SANDBOX_MAX_CODE_BYTES (200000), SANDBOX_OUTPUT_BYTES (64000), SANDBOX_MEMORY_MB (0: the container's limit),
SANDBOX_FILE_MB (64), SANDBOX_MAX_CONCURRENT (2), SANDBOX_LANDLOCK (1).
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
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tools` importable from the directory above
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.confine import landlock_abi
from tools.process_runner import RunLimits, kill_group, run_python

MAX_BODY_BYTES = 1_000_000
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class RunnerConfig:
    scratch_root: Path
    max_timeout_s: float = 120.0
    max_code_bytes: int = 200_000
    limits: RunLimits = RunLimits(memory_mb=0)
    max_concurrent: int = 2
    queue_wait_s: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RunnerConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            scratch_root=Path(env.get("SANDBOX_SCRATCH", "/scratch")),
            max_timeout_s=float(env.get("SANDBOX_MAX_TIMEOUT_S", "120")),
            max_code_bytes=int(env.get("SANDBOX_MAX_CODE_BYTES", "200000")),
            limits=RunLimits(
                output_bytes=int(env.get("SANDBOX_OUTPUT_BYTES", "64000")),
                memory_mb=int(env.get("SANDBOX_MEMORY_MB", "0")),
                file_mb=int(env.get("SANDBOX_FILE_MB", "64")),
                landlock=env.get("SANDBOX_LANDLOCK", "1") not in ("0", "false", "no"),
            ),
            max_concurrent=int(env.get("SANDBOX_MAX_CONCURRENT", "2")),
        )


class Runner:
    """Session bookkeeping shared by the request threads."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self._slots = threading.BoundedSemaphore(config.max_concurrent)
        self._lock = threading.Lock()
        self._running: dict[str, set[int]] = {}
        config.scratch_root.mkdir(parents=True, exist_ok=True)

    def scratch_for(self, session_id: str) -> Path:
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:16]
        return self.config.scratch_root / f"s-{digest}"

    def run(self, session_id: str, code: str, timeout_s: float) -> dict[str, Any] | None:
        """Run one snippet; None when every slot stayed busy for queue_wait_s."""
        if not self._slots.acquire(timeout=self.config.queue_wait_s):
            return None
        try:
            limits = replace(self.config.limits, timeout_s=timeout_s)
            result = asyncio.run(
                run_python(
                    code,
                    self.scratch_for(session_id),
                    limits,
                    on_start=lambda pid: self._track(session_id, pid, True),
                    on_exit=lambda pid: self._track(session_id, pid, False),
                )
            )
            return {**result.to_json(), "timeout_s": timeout_s}
        finally:
            self._slots.release()

    def release(self, session_id: str) -> bool:
        with self._lock:
            pids = self._running.pop(session_id, set())
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


class Handler(BaseHTTPRequestHandler):
    server_version = "sandbox-runner/1"
    runner: Runner  # set on the subclass make_server builds

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("SANDBOX_ACCESS_LOG"):
            super().log_message(format, *args)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/health":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        self._reply(
            HTTPStatus.OK, {"status": "ok", "landlock_abi": landlock_abi() if self.runner.config.limits.landlock else 0}
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
    print(
        f"sandbox runner on {server.server_address}, scratch {config.scratch_root}, "
        f"landlock ABI {landlock_abi() if config.limits.landlock else 0}",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
