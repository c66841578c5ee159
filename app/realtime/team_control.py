"""The narrator's view of the team: a small protocol for commands, and the one adapter that turns an item of
the session's event log into the typed event narration consumes.

`agents.session.team_session.TeamSession` satisfies `TeamControl`. Everything in app/realtime talks to the team through it,
so the narrator's parts are unit-tested with a few lines of fake (tests/app/realtime/narrator/test_narrator_parts.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.store.event_log import Delivery


class TeamControl(Protocol):
    """What the voice front may do with the team. Commands may raise agents.session.team_session.SessionCommandError."""

    @property
    def run_id(self) -> str | None: ...

    def status(self) -> dict[str, Any]: ...

    async def submit_task(self, text: str) -> dict[str, Any]: ...

    async def pause(self) -> dict[str, Any]: ...

    async def resume(self) -> dict[str, Any]: ...

    async def cancel(self) -> dict[str, Any]: ...


async def team_command(team: TeamControl, action: str) -> dict[str, Any]:
    """Carry out "pause", "resume" or "cancel" on the team (SessionCommandError when it cannot be done now)."""
    commands = {"pause": team.pause, "resume": team.resume, "cancel": team.cancel}
    return await commands[action]()


def status_sentence(status: dict[str, Any]) -> str:
    """The team's status (TeamControl.status()) as one sentence a voice model can say."""
    if status.get("task") is None:
        return f"The team is {status['state']} and has no task."
    speaker = f", last step by the {status['last_speaker']}" if status.get("last_speaker") else ""
    return (
        f"The team is {status['state']} on: {str(status['task'])[:200]} "
        f"({round(status.get('elapsed_s') or 0)} s so far{speaker})."
    )


NARRATED = frozenset(
    {"run_started", "run_finished", "TextMessage", "ToolCallRequestEvent", "ToolCallExecutionEvent", "error"}
)


@dataclass(frozen=True)
class TeamUpdate:
    """One team event as narration sees it: its type, run, payload, and the JSON text the page gets."""

    type: str
    run_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    text: str = "{}"

    @property
    def narrated(self) -> bool:
        return self.type in NARRATED

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "run_id": self.run_id, "data": self.data}


def team_event(item: Delivery) -> TeamUpdate:
    """THE adapter from a SessionEventLog inbox item to a TeamUpdate (a team event as narration sees it): it reads the typed model the log built
    (no JSON parsing again); an item without one (a reply) is read from its text."""
    event = item.event
    if event is None:
        return _from_text(item.text)
    data = event.data if isinstance(event.data, dict) else event.data.model_dump(mode="json")
    return TeamUpdate(type=event.type, run_id=event.run_id, data=data, text=item.text)


def _from_text(text: str) -> TeamUpdate:
    event = json.loads(text)
    data = event.get("data")
    return TeamUpdate(
        type=str(event.get("type") or ""),
        run_id=event.get("run_id"),
        data=data if isinstance(data, dict) else {},
        text=text,
    )
