"""Code execution for the Developer: `CodeSandbox` hands each session a `run_python` tool.

Why a tool (AutoGen's PythonCodeExecutionTool) and not a CodeExecutorAgent: the Developer stays an
AssistantAgent like the others, so the selector, the routing and the tool-call events work the same for every
worker; the model decides when to run code through an ordinary function call (no fenced-block parsing of its
prose); and the tool's result goes through the same reflection and trimming as any other tool's.

Executors behind the same tool, chosen by CODE_EXECUTOR (tools/code_executors.py):
- bubblewrap (default; `local` means the same): each run in its own namespaces with one budget
  (sandbox/run.py); refused, with the reason, when bubblewrap cannot run here.
- docker / sandbox: the compose `sandbox` service (sandbox/runner.py), which runs the same bubblewrap runner.
- unsafe-local: a subprocess with rlimits and Landlock only, when the operator opts in explicitly.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from autogen_core.code_executor import CodeExecutor
from autogen_core.tools import BaseTool, ToolSchema
from autogen_ext.tools.code_execution import CodeExecutionInput, CodeExecutionResult, PythonCodeExecutionTool

from sandbox.confine import landlock_abi
from sandbox.isolation import NOT_STARTED, Isolation, probe_bubblewrap, refusal_message
from sandbox.run import BwrapRunner
from tools.code_executors import (
    BubblewrapExecutor,
    RefusingExecutor,
    SandboxServiceExecutor,
    UnsafeLocalExecutor,
    passthrough_env,
)
from tools.config import ToolSettings
from tools.trim import head_tail

log = logging.getLogger(__name__)

TOOL_NAME = "run_python"


def tool_description(timeout_s: float, isolated: bool = True) -> str:
    where = "an isolated sandbox" if isolated else "a local process"
    return (
        f"Run a complete Python 3 script in {where}: returns the exit code and its output; print() every result. "
        f"Each call is a new process (no variables kept) in your scratch directory, whose files stay between "
        f"calls. No internet, {timeout_s:g} s limit; only the standard library is sure (import others in "
        f"try/except). Long output is cut in the middle."
    )


def scratch_name(session_id: str) -> str:
    """A directory name for a session id: readable, safe, and unique even when ids differ only in odd chars."""
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", session_id)[:40].strip(".") or "session"
    return f"{readable}-{hashlib.sha256(session_id.encode()).hexdigest()[:10]}"


class RunPythonTool(PythonCodeExecutionTool):
    """AutoGen's PythonCodeExecutionTool under our name and description, its output capped for the model and
    its failures returned as text (never raised into the agent)."""

    component_provider_override = "tools.code_execution.RunPythonTool"

    def __init__(
        self, executor: CodeExecutor, *, name: str = TOOL_NAME, description: str = "", max_chars: int = 4000
    ) -> None:
        super().__init__(executor)
        self._name = name
        self._description = description or tool_description(30)
        self._max_chars = max_chars

    @property
    def schema(self) -> ToolSchema:
        """AutoGen's schema with a shorter description of `code` (the tool's description says the rest)."""
        schema = super().schema  # a copy (agents/team/tool_schemas.py caches and copies it)
        code = schema.get("parameters", {}).get("properties", {}).get("code")
        if isinstance(code, dict):
            code["description"] = "The script."
        return schema

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
    """Owns code execution for the app: started and stopped by the lifespan, one tool and one set of files per
    session. `isolation` says what confines the runs (the lead logs it at start-up and shows it in /health)."""

    def __init__(self, settings: ToolSettings) -> None:
        self.settings = settings
        self.isolation: Isolation = NOT_STARTED
        self._executors: dict[str, CodeExecutor] = {}
        self._tools: dict[str, BaseTool[Any, Any]] = {}
        self._root: Path | None = None
        self._client: httpx.AsyncClient | None = None
        self._gate: asyncio.Semaphore | None = None
        self._runner: BwrapRunner | None = None
        self._started = False

    @classmethod
    def from_settings(cls, settings: ToolSettings) -> CodeSandbox:
        return cls(settings)

    @property
    def mode(self) -> str:
        """sandbox (the compose service), unsafe-local, or bubblewrap (also for CODE_EXECUTOR=local)."""
        if self.settings.uses_sandbox_service:
            return "sandbox"
        return "unsafe-local" if self.settings.code_executor == "unsafe-local" else "bubblewrap"

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        if self._started:
            return
        self._gate = asyncio.Semaphore(self.settings.code_max_concurrent)
        if self.mode == "sandbox":
            self._client = httpx.AsyncClient(
                base_url=self.settings.sandbox_url,
                trust_env=False,
                timeout=httpx.Timeout(10.0, read=self.settings.code_timeout_s + 30),
            )
            self.isolation = await self._wait_for_sandbox()
        else:
            base = self.settings.code_scratch_root or Path(tempfile.gettempdir()) / "research-team-scratch"
            base.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(_remove_orphans, base)
            self._root = Path(tempfile.mkdtemp(prefix=f"sandbox-{os.getpid()}-", dir=base))
            self._root.chmod(0o700)
            if self.mode == "unsafe-local":
                self.isolation = _unsafe_local_isolation(self.settings)
            else:
                self.isolation, runner = await probe_bubblewrap(
                    self.settings.code_bwrap_path,
                    self.settings.code_python,
                    self.settings.code_budget,
                    landlock=self.settings.code_landlock,
                )
                if runner is not None:
                    env = passthrough_env(self.settings.code_env_passthrough)
                    self._runner = dataclasses.replace(runner, passthrough_env=env)
        self._started = True
        if self.isolation.ok:
            log.info("code execution isolated", extra={"executor": self.isolation.executor})
        elif self.isolation.runs_code:
            log.warning("code execution is NOT isolated (CODE_EXECUTOR=unsafe-local): %s", self.isolation.detail)
        else:
            log.error("code execution refused: no isolation available: %s", self.isolation.detail)

    async def stop(self) -> None:
        for session_id in list(self._executors):
            await self.release(session_id)
        if self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._root = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._runner = None
        self._started = False

    def tool_for(self, session_id: str) -> BaseTool[Any, Any]:
        """The Developer's code tool for this session (the same object for repeated calls)."""
        if not self._started:
            raise RuntimeError("CodeSandbox.start() must be called before tool_for()")
        if session_id in self._tools:
            return self._tools[session_id]
        executor = self._new_executor(session_id)
        tool = RunPythonTool(
            executor,
            description=tool_description(self.settings.code_timeout_s, isolated=self.isolation.ok),
            max_chars=self.settings.tool_output_max_chars,
        )
        self._executors[session_id] = executor
        self._tools[session_id] = tool
        return tool

    def _new_executor(self, session_id: str) -> CodeExecutor:
        assert self._gate is not None
        if self._client is not None:
            return SandboxServiceExecutor(self._client, scratch_name(session_id), self.settings)
        if not self.isolation.runs_code:
            return RefusingExecutor(refusal_message(self.isolation))
        assert self._root is not None
        if self._runner is not None:
            return BubblewrapExecutor(self._root / scratch_name(session_id), self._runner, self._gate)
        scratch = self._root / scratch_name(session_id)
        scratch.mkdir(parents=True, exist_ok=True)
        return UnsafeLocalExecutor(scratch, self.settings, self._gate)

    def scratch_dir(self, session_id: str) -> Path | None:
        """Where a session's files are on this host: the scratch directory (unsafe-local) or the directory of
        its files' archive (bubblewrap); None for the sandbox service or an unknown session."""
        executor = self._executors.get(session_id)
        if isinstance(executor, UnsafeLocalExecutor):
            return executor.scratch
        if isinstance(executor, BubblewrapExecutor):
            return executor.state_dir
        return None

    async def release(self, session_id: str) -> None:
        """End the session's running code and delete its files."""
        self._tools.pop(session_id, None)
        executor = self._executors.pop(session_id, None)
        if executor is not None:
            await executor.stop()

    async def _wait_for_sandbox(self) -> Isolation:
        assert self._client is not None
        deadline = asyncio.get_running_loop().time() + self.settings.sandbox_start_timeout_s
        while True:
            try:
                response = await self._client.get("/health", timeout=2.0)
                if response.status_code == 200:
                    data = response.json()
                    log.info("code sandbox ready", extra={"url": self.settings.sandbox_url})
                    ok = bool(data.get("ok")) if isinstance(data, dict) else False
                    detail = str(data.get("detail", "")) if isinstance(data, dict) else ""
                    return Isolation("sandbox-service", ok, f"{self.settings.sandbox_url}: {detail}")
            except (httpx.HTTPError, ValueError):
                pass
            if asyncio.get_running_loop().time() >= deadline:
                log.warning(
                    "code sandbox not reachable; the Developer's runs will fail until it is",
                    extra={"url": self.settings.sandbox_url},
                )
                return Isolation("sandbox-service", False, f"{self.settings.sandbox_url} is not reachable")
            await asyncio.sleep(0.5)


def _unsafe_local_isolation(settings: ToolSettings) -> Isolation:
    abi = landlock_abi() if settings.code_landlock else 0
    layer = f"Landlock ABI {abi}" if abi else "no Landlock: the code can read and write what this server's user can"
    return Isolation(
        "unsafe-local",
        False,
        f"CODE_EXECUTOR=unsafe-local: a subprocess with rlimits and {layer}; no namespaces, so no isolation "
        "from this server's processes and sockets",
    )


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
