"""Code execution for the Developer: `CodeSandbox` hands each session a `run_python` tool.

Why a tool (AutoGen's PythonCodeExecutionTool) and not a CodeExecutorAgent: the Developer stays an
AssistantAgent like the others, so the selector, the routing and the tool-call events work the same for every
worker; the model decides when to run code through an ordinary function call (no fenced-block parsing of its
prose); and the tool's result goes through the same reflection and trimming as any other tool's.

Two executors behind the same tool, chosen by CODE_EXECUTOR:
- local (default): a confined subprocess per run in a per-session scratch directory (tools/process_runner.py).
- docker / sandbox: the compose `sandbox` service (sandbox/runner.py), over HTTP on an internal network. The
  container has no network, no secrets, a read-only root, CPU/memory/pid limits, and a tmpfs scratch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock, CodeExecutor, CodeResult
from autogen_core.tools import BaseTool
from autogen_ext.tools.code_execution import CodeExecutionInput, CodeExecutionResult, PythonCodeExecutionTool

from tools.config import ToolSettings
from tools.confine import landlock_abi
from tools.process_runner import RunLimits, RunResult, kill_group, run_python
from tools.trim import head_tail

log = logging.getLogger(__name__)

TOOL_NAME = "run_python"


def tool_description(timeout_s: float, local: bool) -> str:
    where = "a confined local process" if local else "an isolated sandbox container"
    return (
        f"Run a Python 3 script in {where} and return its exit code and everything it printed (stdout and "
        f"stderr). Give the complete script in `code`; print() every result you need. Each call is a new process "
        f"(variables do not survive between calls) started in your own scratch directory, where files you write "
        f"stay for later calls in this conversation. No internet access. Time limit {timeout_s:g} s. Only the "
        f"standard library is certain to be installed: import other packages inside try/except. Long output is "
        f"shortened to its start and end."
    )


def scratch_name(session_id: str) -> str:
    """A directory name for a session id: readable, safe, and unique even when ids differ only in odd chars."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", session_id)[:40].strip(".") or "session"
    return f"{readable}-{hashlib.sha256(session_id.encode()).hexdigest()[:10]}"


class LocalScratchExecutor(CodeExecutor):
    """Runs Python blocks with tools.process_runner in one session's scratch directory."""

    def __init__(self, scratch: Path, settings: ToolSettings, gate: asyncio.Semaphore) -> None:
        self.scratch = scratch
        self._settings = settings
        self._gate = gate
        self._running: set[int] = set()
        self._limits = RunLimits(
            timeout_s=settings.code_timeout_s,
            output_bytes=settings.code_output_max_bytes,
            memory_mb=settings.code_memory_mb,
            file_mb=settings.code_file_max_mb,
            landlock=settings.code_landlock,
            require_landlock=settings.code_require_landlock,
        )

    async def execute_code_blocks(
        self, code_blocks: list[CodeBlock], cancellation_token: CancellationToken
    ) -> CodeResult:
        outputs: list[str] = []
        exit_code = 0
        for block in code_blocks:
            if block.language.lower() not in ("python", "py", "python3", ""):
                return CodeResult(exit_code=1, output=f"Only Python can be run, not {block.language}.")
            async with self._gate:
                task = asyncio.ensure_future(
                    run_python(
                        block.code,
                        self.scratch,
                        self._limits,
                        python=self._settings.code_python,
                        passthrough_env=self._settings.code_env_passthrough,
                        on_start=self._running.add,
                        on_exit=self._running.discard,
                    )
                )
                cancellation_token.link_future(task)
                result: RunResult = await task
            outputs.append(result.describe(self._limits.timeout_s))
            exit_code = 124 if result.timed_out else (result.exit_code if result.exit_code is not None else 1)
            if exit_code != 0:
                break
        return CodeResult(exit_code=exit_code, output="\n\n".join(outputs))

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


class SandboxServiceExecutor(CodeExecutor):
    """Runs Python blocks in the sandbox service (sandbox/runner.py) for one session."""

    def __init__(self, client: httpx.AsyncClient, session_id: str, settings: ToolSettings) -> None:
        self._client = client
        self._session_id = scratch_name(session_id)  # the service accepts [A-Za-z0-9_.:-] only
        self._settings = settings

    async def execute_code_blocks(
        self, code_blocks: list[CodeBlock], cancellation_token: CancellationToken
    ) -> CodeResult:
        outputs: list[str] = []
        exit_code = 0
        for block in code_blocks:
            if block.language.lower() not in ("python", "py", "python3", ""):
                return CodeResult(exit_code=1, output=f"Only Python can be run, not {block.language}.")
            task = asyncio.ensure_future(
                self._client.post(
                    "/run",
                    json={
                        "session_id": self._session_id,
                        "code": block.code,
                        "timeout_s": self._settings.code_timeout_s,
                    },
                    timeout=self._settings.code_timeout_s + 15,
                )
            )
            cancellation_token.link_future(task)
            try:
                response = await task
            except httpx.HTTPError as exc:
                return CodeResult(
                    exit_code=1,
                    output=f"The code sandbox is not reachable ({type(exc).__name__}). Code cannot be run right now.",
                )
            if response.status_code != 200:
                detail = _error_detail(response)
                return CodeResult(exit_code=1, output=f"The code sandbox refused the run: {detail}")
            try:
                data = response.json()
            except ValueError:
                return CodeResult(exit_code=1, output="The code sandbox gave an unreadable answer.")
            result = RunResult(
                exit_code=data.get("exit_code"),
                output=str(data.get("output", "")),
                timed_out=bool(data.get("timed_out")),
                omitted_bytes=int(data.get("omitted_bytes", 0)),
                duration_s=float(data.get("duration_s", 0.0)),
            )
            applied = data.get("timeout_s")
            outputs.append(
                result.describe(float(applied) if isinstance(applied, (int, float)) else self._settings.code_timeout_s)
            )
            exit_code = 124 if result.timed_out else (result.exit_code if result.exit_code is not None else 1)
            if exit_code != 0:
                break
        return CodeResult(exit_code=exit_code, output="\n\n".join(outputs))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        try:
            await self._client.post("/release", json={"session_id": self._session_id}, timeout=5.0)
        except httpx.HTTPError as exc:
            log.warning("sandbox release failed", extra={"error": type(exc).__name__})

    async def restart(self) -> None:
        return None


class RunPythonTool(PythonCodeExecutionTool):
    """AutoGen's PythonCodeExecutionTool under our name and description, its output capped for the model and
    its failures returned as text (never raised into the agent)."""

    component_provider_override = "tools.code_execution.RunPythonTool"

    def __init__(
        self, executor: CodeExecutor, *, name: str = TOOL_NAME, description: str = "", max_chars: int = 4000
    ) -> None:
        super().__init__(executor)
        self._name = name
        self._description = description or tool_description(30, local=True)
        self._max_chars = max_chars

    async def run(self, args: CodeExecutionInput, cancellation_token: CancellationToken) -> CodeExecutionResult:
        if not args.code.strip():
            return CodeExecutionResult(success=False, output="No code given: put the whole Python script in `code`.")
        try:
            result = await super().run(args, cancellation_token)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("run_python failed")
            return CodeExecutionResult(success=False, output=f"The code could not be run: {type(exc).__name__}.")
        return CodeExecutionResult(success=result.success, output=head_tail(result.output, self._max_chars))


class CodeSandbox:
    """Owns code execution for the app: started and stopped by the lifespan, one tool and scratch per session."""

    def __init__(self, settings: ToolSettings) -> None:
        self.settings = settings
        self._executors: dict[str, LocalScratchExecutor | SandboxServiceExecutor] = {}
        self._tools: dict[str, BaseTool[Any, Any]] = {}
        self._root: Path | None = None
        self._client: httpx.AsyncClient | None = None
        self._gate: asyncio.Semaphore | None = None
        self.landlock_abi = 0

    @classmethod
    def from_settings(cls, settings: ToolSettings) -> CodeSandbox:
        return cls(settings)

    @property
    def mode(self) -> str:
        return "sandbox" if self.settings.uses_sandbox_service else "local"

    @property
    def started(self) -> bool:
        return self._root is not None or self._client is not None

    async def start(self) -> None:
        if self.started:
            return
        self._gate = asyncio.Semaphore(self.settings.code_max_concurrent)
        if self.mode == "sandbox":
            self._client = httpx.AsyncClient(
                base_url=self.settings.sandbox_url,
                trust_env=False,
                timeout=httpx.Timeout(10.0, read=self.settings.code_timeout_s + 15),
            )
            await self._wait_for_sandbox()
            return
        base = self.settings.code_scratch_root or Path(tempfile.gettempdir()) / "research-team-scratch"
        base.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_remove_orphans, base)
        self._root = Path(tempfile.mkdtemp(prefix=f"sandbox-{os.getpid()}-", dir=base))
        self._root.chmod(0o700)
        self.landlock_abi = landlock_abi() if self.settings.code_landlock else 0
        if self.landlock_abi:
            log.info("local code execution confined by Landlock", extra={"abi": self.landlock_abi})
        else:
            log.warning(
                "local code execution without Landlock: runs are limited in time and resources and get "
                "no secrets, but can read and write what this server's user can. Use the docker sandbox "
                "for untrusted work."
            )

    async def stop(self) -> None:
        for session_id in list(self._executors):
            await self.release(session_id)
        if self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._root = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def tool_for(self, session_id: str) -> BaseTool[Any, Any]:
        """The Developer's code tool for this session (the same object for repeated calls)."""
        if not self.started:
            raise RuntimeError("CodeSandbox.start() must be called before tool_for()")
        if session_id in self._tools:
            return self._tools[session_id]
        executor: LocalScratchExecutor | SandboxServiceExecutor
        if self._client is not None:
            executor = SandboxServiceExecutor(self._client, session_id, self.settings)
        else:
            assert self._root is not None and self._gate is not None
            executor = LocalScratchExecutor(self._root / scratch_name(session_id), self.settings, self._gate)
            executor.scratch.mkdir(parents=True, exist_ok=True)
        tool = RunPythonTool(
            executor,
            description=tool_description(self.settings.code_timeout_s, local=self.mode == "local"),
            max_chars=self.settings.tool_output_max_chars,
        )
        self._executors[session_id] = executor
        self._tools[session_id] = tool
        return tool

    def scratch_dir(self, session_id: str) -> Path | None:
        """Where a local session's files are (None in sandbox mode or for an unknown session)."""
        executor = self._executors.get(session_id)
        return executor.scratch if isinstance(executor, LocalScratchExecutor) else None

    async def release(self, session_id: str) -> None:
        """End the session's running code and delete its scratch directory."""
        self._tools.pop(session_id, None)
        executor = self._executors.pop(session_id, None)
        if executor is not None:
            await executor.stop()

    async def _wait_for_sandbox(self) -> None:
        assert self._client is not None
        deadline = asyncio.get_running_loop().time() + self.settings.sandbox_start_timeout_s
        while True:
            try:
                response = await self._client.get("/health", timeout=2.0)
                if response.status_code == 200:
                    log.info("code sandbox ready", extra={"url": self.settings.sandbox_url})
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() >= deadline:
                log.warning(
                    "code sandbox not reachable; the Developer's runs will fail until it is",
                    extra={"url": self.settings.sandbox_url},
                )
                return
            await asyncio.sleep(0.5)


def _remove_orphans(base: Path) -> None:
    """Delete scratch roots left by server processes that died without stop() (named sandbox-PID-...)."""
    for path in base.glob("sandbox-*-*"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
