"""Stopping the embedded AutoGen runtime of a team we replaced, so nothing of it lingers."""

from __future__ import annotations

import asyncio
import logging

from autogen_agentchat.teams import SelectorGroupChat

log = logging.getLogger(__name__)


async def stop_runtime(team: SelectorGroupChat) -> None:
    """A cancel during a tool call leaves an agent handler waiting forever on its tool-result queue (AutoGen 0.7.5
    deadlock). Cancelling the runtime's background tasks unwinds that handler; then the runtime can stop and
    the abandoned run task ends too. This reads a private attribute of a library in maintenance mode: the test
    test_cancel_during_tool_call_then_next_task_works fails if it stops working.
    """
    runtime = getattr(team, "_runtime", None)
    if runtime is None:
        return
    for task in list(getattr(runtime, "_background_tasks", ())):
        task.cancel()
    try:
        await asyncio.wait_for(runtime.stop(), timeout=5)
    except Exception:  # noqa: BLE001 - a runtime that is not running cannot be stopped, which is fine
        pass


async def reap_cancelled(
    run_id: str, driver: asyncio.Task[None], team: SelectorGroupChat | None, grace_s: float
) -> None:
    """Give a cancelled run task `grace_s` to end by itself, then unstick its runtime (see stop_runtime)."""
    done, _ = await asyncio.wait({driver}, timeout=grace_s)
    if not done:
        log.warning("run %s did not stop within %.1fs of its cancel; stopping its runtime", run_id, grace_s)
    if team is not None:
        await stop_runtime(team)
    await asyncio.wait({driver}, timeout=grace_s)
