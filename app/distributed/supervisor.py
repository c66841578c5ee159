"""`research-team serve --workers N`: N worker processes beside the gateway, restarted if one dies, so one
machine uses all its cores. Each is a plain `research-team worker` with the same environment."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0


class WorkerSupervisor:
    def __init__(self, count: int) -> None:
        self._count = count
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._procs = [self._spawn() for _ in range(self._count)]
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "app.cli.main", "worker"])

    def _watch(self) -> None:
        while not self._stopping.wait(RESTART_DELAY_S):
            for index, proc in enumerate(self._procs):
                if proc.poll() is not None and not self._stopping.is_set():
                    log.warning("worker exited; starting another", extra={"code": proc.returncode})
                    self._procs[index] = self._spawn()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stopping.set()
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in self._procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
