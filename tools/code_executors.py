"""The code executors behind `run_python`, one per session: AutoGen `CodeExecutor`s over the ways a run can go.

- BubblewrapExecutor: each run in its own bubblewrap sandbox (sandbox/run.py); the session's files are
  kept between runs as an archive in its state directory.
- SandboxServiceExecutor: the docker compose sandbox service (sandbox/runner.py), which runs the same.
- UnsafeLocalExecutor: a subprocess with rlimits and Landlock only (sandbox/processes.py); only when the
  operator set CODE_EXECUTOR=unsafe-local.
- RefusingExecutor: no isolation tool is available; every run is answered with why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from abc import abstractmethod
from pathlib import Path

import httpx
from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock, CodeExecutor, CodeResult

from sandbox.processes import RunLimits, RunResult, is_secret_name, kill_group, run_python
from sandbox.run import BwrapRunner
from tools.config import ToolSettings

log = logging.getLogger(__name__)

PYTHON_LANGUAGES = ("python", "py", "python3", "")
STATE_FILE = "files.tar"


def passthrough_env(names: list[str]) -> dict[str, str]:
    """The operator's harmless variables for a run's environment; a name that looks like a secret never."""
    return {name: os.environ[name] for name in names if name in os.environ and not is_secret_name(name)}


class _BlockExecutor(CodeExecutor):
    """Runs the Python blocks of one call in order, stopping at the first failure."""

    @abstractmethod
    async def run_block(self, code: str, cancellation_token: CancellationToken) -> str | tuple[RunResult, float]:
        """One block: a message when it did not run, else its result and the timeout that applied."""

    async def execute_code_blocks(
        self, code_blocks: list[CodeBlock], cancellation_token: CancellationToken
    ) -> CodeResult:
        outputs: list[str] = []
        exit_code = 0
        for block in code_blocks:
            if block.language.lower() not in PYTHON_LANGUAGES:
                return CodeResult(exit_code=1, output=f"Only Python can be run, not {block.language}.")
            outcome = await self.run_block(block.code, cancellation_token)
            if isinstance(outcome, str):
                return CodeResult(exit_code=1, output=outcome)
            result, timeout_s = outcome
            outputs.append(result.describe(timeout_s))
            exit_code = 124 if result.timed_out else (result.exit_code if result.exit_code is not None else 1)
            if exit_code != 0:
                break
        return CodeResult(exit_code=exit_code, output="\n\n".join(outputs))

    async def start(self) -> None:
        return None

    async def restart(self) -> None:
        return None


class BubblewrapExecutor(_BlockExecutor):
    """One session's runs in bubblewrap; its files are an archive in `state_dir` between runs."""

    def __init__(self, state_dir: Path, runner: BwrapRunner, gate: asyncio.Semaphore) -> None:
        self.state_dir = state_dir
        self._runner = runner
        self._gate = gate
        self._running: set[int] = set()
        self._session_lock = asyncio.Lock()  # parallel tool calls of one session must not share its archive

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    async def run_block(self, code: str, cancellation_token: CancellationToken) -> tuple[RunResult, float]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        async with self._session_lock, self._gate:
            task = asyncio.ensure_future(
                self._runner.run(code, self.state_file, on_start=self._running.add, on_exit=self._running.discard)
            )
            cancellation_token.link_future(task)
            return await task, self._runner.budget.timeout_s

    def kill_running(self) -> None:
        for pid in list(self._running):
            kill_group(pid)

    async def stop(self) -> None:
        self.kill_running()
        await asyncio.to_thread(shutil.rmtree, self.state_dir, True)

    async def restart(self) -> None:
        self.kill_running()


class UnsafeLocalExecutor(_BlockExecutor):
    """Runs Python blocks with sandbox.processes in one session's scratch directory (no namespaces)."""

    def __init__(self, scratch: Path, settings: ToolSettings, gate: asyncio.Semaphore) -> None:
        self.scratch = scratch
        self._settings = settings
        self._gate = gate
        self._running: set[int] = set()
        self._limits = RunLimits(
            timeout_s=settings.code_timeout_s,
            output_bytes=settings.code_output_max_bytes,
            memory_mb=settings.code_budget.memory_per_process_mb,
            file_mb=settings.code_file_max_mb,
            landlock=settings.code_landlock,
            require_landlock=settings.code_require_landlock,
        )

    async def run_block(self, code: str, cancellation_token: CancellationToken) -> tuple[RunResult, float]:
        async with self._gate:
            task = asyncio.ensure_future(
                run_python(
                    code,
                    self.scratch,
                    self._limits,
                    python=self._settings.code_python,
                    passthrough_env=self._settings.code_env_passthrough,
                    on_start=self._running.add,
                    on_exit=self._running.discard,
                )
            )
            cancellation_token.link_future(task)
            return await task, self._limits.timeout_s

    def kill_running(self) -> None:
        for pid in list(self._running):
            kill_group(pid)

    async def start(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        self.kill_running()
        await asyncio.to_thread(shutil.rmtree, self.scratch, True)

    async def restart(self) -> None:
        self.kill_running()


class SandboxServiceExecutor(_BlockExecutor):
    """Runs Python blocks in the sandbox service (sandbox/runner.py) for one session."""

    def __init__(self, client: httpx.AsyncClient, service_session_id: str, settings: ToolSettings) -> None:
        self._client = client
        self._session_id = service_session_id  # the service accepts [A-Za-z0-9_.:-] only
        self._settings = settings

    async def run_block(self, code: str, cancellation_token: CancellationToken) -> str | tuple[RunResult, float]:
        task = asyncio.ensure_future(
            self._client.post(
                "/run",
                json={"session_id": self._session_id, "code": code, "timeout_s": self._settings.code_timeout_s},
                timeout=self._settings.code_timeout_s + 30,
            )
        )
        cancellation_token.link_future(task)
        try:
            response = await task
        except httpx.HTTPError as exc:
            return f"The code sandbox is not reachable ({type(exc).__name__}). Code cannot be run right now."
        if response.status_code != 200:
            return f"The code sandbox refused the run: {_error_detail(response)}"
        try:
            data = response.json()
        except ValueError:
            return "The code sandbox gave an unreadable answer."
        result = RunResult(
            exit_code=data.get("exit_code"),
            output=str(data.get("output", "")),
            timed_out=bool(data.get("timed_out")),
            omitted_bytes=int(data.get("omitted_bytes", 0)),
            duration_s=float(data.get("duration_s", 0.0)),
        )
        applied = data.get("timeout_s")
        return result, float(applied) if isinstance(applied, (int, float)) else self._settings.code_timeout_s

    async def stop(self) -> None:
        try:
            await self._client.post("/release", json={"session_id": self._session_id}, timeout=5.0)
        except httpx.HTTPError as exc:
            log.warning("sandbox release failed", extra={"error": type(exc).__name__})


class RefusingExecutor(_BlockExecutor):
    """No isolation: every run is refused with the reason, so the Developer can say so."""

    def __init__(self, message: str) -> None:
        self._message = message

    async def run_block(self, code: str, cancellation_token: CancellationToken) -> str:
        return self._message

    async def stop(self) -> None:
        return None


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return (
        str(data.get("error") or f"HTTP {response.status_code}")
        if isinstance(data, dict)
        else f"HTTP {response.status_code}"
    )
