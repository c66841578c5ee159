"""Start bench/scripted_server.py as a child process and measure it from outside (CPU time, memory)."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Usage:
    cpu_s: float
    rss_mb: float


class ServerProcess:
    """`async with ServerProcess(...) as server:` → server.http_url, server.ws_url, server.usage(), server.data_dir."""

    def __init__(self, data_dir: Path, *, model_delay: float = 0.05, openai_base_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.args = ["--model-delay", str(model_delay), "--data-dir", str(data_dir)]
        if openai_base_url:
            self.args += ["--openai-base-url", openai_base_url]
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> ServerProcess:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.scripted_server", *self.args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
        )
        assert self._proc.stdout is not None
        line = (await asyncio.wait_for(self._proc.stdout.readline(), 60)).decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.process = psutil.Process(self._proc.pid)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._proc is not None
        if self._proc.returncode is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self._proc.wait(), 20)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()

    def kill(self) -> None:
        """SIGKILL: the server dies mid-whatever, as in a crash or an OOM kill."""
        assert self._proc is not None
        self._proc.kill()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'runs.db'}"

    def usage(self) -> Usage:
        times = self.process.cpu_times()
        return Usage(cpu_s=times.user + times.system, rss_mb=self.process.memory_info().rss / 2**20)
