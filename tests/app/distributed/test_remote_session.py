"""A gateway's mirror of a session on a worker (app/distributed/gateway/remote_session.py): what it answers at once
(state, run id, status) follows the session's events, whichever comes first, the command's reply or the events."""

from __future__ import annotations

import asyncio
from typing import Any

from agents.events import RunFinished, RunStarted, StateChanged, TeamMessage, Usage
from agents.stop import StopReason
from app.core.protocol import AnyServerEvent, wrap
from app.distributed.bus import Command
from app.distributed.gateway.remote_session import RemoteSession

RUN = "run_mirror_0001"


def event(payload: Any, seq: int) -> AnyServerEvent:
    return wrap(payload, seq=seq, run_id=RUN, session_id="s_mirror_0001", timestamp="2026-12-02T00:00:00+00:00")


def whole_run() -> list[AnyServerEvent]:
    finished = RunFinished(
        final_answer="42", complete=True, stop_reason=StopReason.COMPLETED, task="q", duration_s=0.1,
        usage=Usage(model_calls=2), messages=1,
    )  # fmt: skip
    return [
        event(RunStarted(task="q", followup=False, session_id="s_mirror_0001"), 1),
        event(StateChanged(state="running", message="The team is working."), 2),
        event(TeamMessage(type="TextMessage", data={"source": "Manager", "content": "hi"}), 3),
        event(finished, 4),
        event(StateChanged(state="idle", message="Ready."), 5),
    ]


class Bus:
    """Answers each command like a worker; `before_reply` events reach the mirror before the reply does."""

    def __init__(self) -> None:
        self.session: RemoteSession | None = None
        self.before_reply: list[AnyServerEvent] = []

    async def command(self, command: Command) -> dict[str, Any]:
        assert self.session is not None and command.action == "task"
        for early in self.before_reply:
            self.session.observe(early)
        return {"status": "started", "run_id": RUN}


def mirror(bus: Bus) -> RemoteSession:
    session = RemoteSession("s_mirror_0001", "local", bus, available=True)  # type: ignore[arg-type]
    bus.session = session
    return session


async def test_a_reply_before_the_events_already_counts_as_running() -> None:
    bus = Bus()
    session = mirror(bus)
    await session.submit_task("q")
    assert session.run_id == RUN and session.status()["state"] == "running" and session.status()["task"] == "q"
    waiting = asyncio.create_task(session.wait_idle(5))
    await asyncio.sleep(0.01)
    assert not waiting.done(), "wait_idle returned while the run was going"
    for item in whole_run():
        session.observe(item)
    await waiting
    assert session.run_id is None and session.status()["usage"]["model_calls"] == 2


async def test_a_reply_after_the_whole_run_leaves_the_mirror_idle() -> None:
    bus = Bus()
    bus.before_reply = whole_run()
    session = mirror(bus)
    await session.submit_task("q")
    assert session.run_id is None and session.state.value == "idle"
    await session.wait_idle(0.1)
