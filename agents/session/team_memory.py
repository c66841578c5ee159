"""The session's team and what it remembers across rebuilds. An AutoGen 0.7.5 team does not resume cleanly
after a cancel or an error, so the session builds a fresh one and loads into it the state saved after the last
finished run; the team it replaces is stopped in the background (agents/session/runtime.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from autogen_agentchat.teams import SelectorGroupChat

from agents.session.runtime import stop_runtime
from agents.team.build import TeamControls

log = logging.getLogger(__name__)

TeamFactory = Callable[[], tuple[SelectorGroupChat, TeamControls]]


class TeamMemory:
    """Owned by one TeamSession and used under its lock: the team, its controls and the saved state."""

    def __init__(self, factory: TeamFactory, session_id: str, spawn: Callable[[Awaitable[None]], Any]) -> None:
        self._factory = factory
        self._session_id = session_id
        self._spawn = spawn
        self.team: SelectorGroupChat | None = None
        self.controls: TeamControls | None = None
        self.snapshot: Mapping[str, Any] | None = None  # the team's state after the last finished run

    def ensure(self) -> tuple[SelectorGroupChat, TeamControls]:
        """The team, built now if there is none."""
        if self.team is None or self.controls is None:
            self.team, self.controls = self._factory()
        return self.team, self.controls

    async def remember(self, run_id: str) -> bool:
        """Save the team's state after a finished run (the next rebuild starts from it). False if not saved."""
        if self.team is None:
            return False
        try:
            self.snapshot = await self.team.save_state()
        except Exception:
            log.exception("save_state failed after run %s", run_id)
            return False
        return True

    async def rebuild(self, *, stop_old: bool = True) -> None:
        """A fresh team with the saved state (stop_old=False: the caller stops the old one itself)."""
        old = self.team
        self.team, self.controls = self._factory()
        if self.snapshot is not None:
            try:
                await self.team.load_state(self.snapshot)
            except Exception:
                log.exception("load_state failed; session %s starts from an empty team", self._session_id)
        if stop_old and old is not None:
            self._spawn(stop_runtime(old))

    def drop(self) -> None:
        """No team until the next task builds one (its runtime is the caller's to stop)."""
        self.team, self.controls = None, None

    def forget(self) -> None:
        """Nothing remembered, and the team stopped: the next task starts on an empty one."""
        self.snapshot = None
        if self.team is not None:
            self._spawn(stop_runtime(self.team))
        self.drop()
