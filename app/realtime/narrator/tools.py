"""The Realtime narrator's tools (ask_team, team_status, pause_team, resume_team, cancel_team), written against
TeamControl. pause_team and cancel_team are refused unless the person spoke after the run began: the recorded
session's model paused the team by itself and lost the answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.session.team_session import SessionCommandError
from app.realtime.team_control import TeamControl

STARTED_NOTE = "The team is working. Tell the person in one short sentence. The answer will arrive as [RUN_FINISHED]."
QUEUED_NOTE = "Queued as a follow-up: it starts when the current run ends."
TOOL_LIST = "ask_team, team_status, pause_team, resume_team, cancel_team"


class NarratorTools:
    def __init__(
        self,
        team: TeamControl,
        *,
        person_asked: Callable[[], bool],
        on_started: Callable[[str], None],
    ) -> None:
        self._team = team
        self._person_asked = person_asked
        self._on_started = on_started

    async def run(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The function_call_output for one call (errors included: the model reads them)."""
        try:
            if name == "ask_team":
                return await self._ask(arguments)
            if name == "team_status":
                return {"ok": True, **self._team.status()}
            if name in ("pause_team", "cancel_team"):
                verb = "paused" if name == "pause_team" else "cancelled"
                if not self._person_asked():
                    return {"ok": False, "refused": f"not {verb}: the person did not ask. The team keeps working."}
                result = await (self._team.pause() if name == "pause_team" else self._team.cancel())
                return {"ok": True, **result}
            if name == "resume_team":
                return {"ok": True, **(await self._team.resume())}
        except SessionCommandError as refused:
            return {"ok": False, "error": refused.code, "message": refused.message}
        return {"ok": False, "error": f"Unknown tool '{name[:60]}'. Tools: {TOOL_LIST}."}

    async def _ask(self, arguments: dict[str, Any]) -> dict[str, Any]:
        task = arguments.get("task")
        if not isinstance(task, str) or not task.strip():
            return {"ok": False, "error": "ask_team needs a non-empty 'task' string."}
        result = await self._team.submit_task(task.strip())
        if result["status"] == "started":
            self._on_started(result["run_id"])
            return {"ok": True, **result, "note": STARTED_NOTE}
        return {"ok": True, **result, "note": QUEUED_NOTE}
