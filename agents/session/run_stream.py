"""One run_stream() call of a run: each AutoGen message goes out as a team event, with the team's state at each
message boundary when the session keeps checkpoints. The session (agents/session/team_session.py) owns what happens at the
run's end; this only streams."""

from __future__ import annotations

import asyncio
import contextlib

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseChatMessage
from autogen_agentchat.teams import SelectorGroupChat

from agents.events import TeamMessage
from agents.session.autogen_events import serialize_message
from agents.session.outlet import SessionOutlet
from agents.session.run_state import Run


async def stream_run(
    team: SelectorGroupChat, run: Run, task: str | None, outlet: SessionOutlet, slots: asyncio.Semaphore | None
) -> None:
    """Until the team stops, or the run is closed from outside (then nothing more of it is emitted)."""
    async with slots or contextlib.nullcontext():  # the process's cap on runs at work at once
        async for item in team.run_stream(task=task, cancellation_token=run.token):
            if run.closed:
                return
            if isinstance(item, TaskResult):
                continue
            run.messages.append(item)
            run.last_speaker = item.source
            if outlet.checkpoints and isinstance(item, BaseChatMessage):
                # A message boundary of the team: its state, stored with this message (agents/session/checkpoint.py).
                # An agent's inner events (tool calls) are not: a resumed turn starts over anyway.
                run.team_state, run.checkpoint_due = await team.save_state(), True
            kind, _, data = serialize_message(item)
            await outlet.emit(TeamMessage(type=kind, data=data), run.run_id)
