"""Limits per user on what spends money: runs in flight at once, and USD per day.

Asked before every run starts (agents/session/team_session.py `admit`, follow-ups included). Both are read from the run
store, which every gateway and worker shares, so they hold per user across the cluster, not per process:
- runs in flight (running, pausing or paused) at most MAX_RUNS_PER_USER;
- USD per day (UTC) at most USER_USD_PER_DAY: what the user's finished runs cost today, plus what the runs in
  flight may still spend (their USD budgets), leaves what a new run may spend; its budget's `max_usd` is
  narrowed to that, and to the day's limit divided by MAX_RUNS_PER_USER (a run that took the whole day would
  leave none for the runs allowed beside it), so a run stops (stop_reason `budget`) instead of spending past
  the day's limit.
Like MAX_SESSIONS_PER_USER, they are for servers with users: the one local owner of a server without users
shares it with nobody (RUN_MAX_* still bound each of its runs). Two runs admitted at the same instant can each see the other absent (one store read each): the cap on runs
in flight can be passed by the runs started in the same few milliseconds, never by more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime

from agents.events import ErrorCode
from agents.models.budget import RunBudget
from agents.session.errors import SessionCommandError
from app.store.run_store import RunStore
from app.store.schema import LOCAL_OWNER

log = logging.getLogger(__name__)
CENT = 0.0001  # less than this left of the day's USD is nothing left
READS_AT_ONCE = 4


class UserLimits:
    def __init__(self, store: RunStore, *, max_runs: int, usd_per_day: float | None) -> None:
        self._store = store
        self._max_runs = max_runs
        self._usd_per_day = usd_per_day
        self._reads = asyncio.Semaphore(READS_AT_ONCE)

    async def admit(self, owner: str, budget: RunBudget) -> RunBudget:
        """The budget a new run of `owner` may have, or SessionCommandError when the user is at a limit."""
        if owner == LOCAL_OWNER:
            return budget  # the one owner of a server without users: nobody to share with (RUN_MAX_* still hold)
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        async with self._reads:  # a burst of new runs must not take every connection of the store's pool
            spending = await self._store.owner_spending(owner, day.isoformat())
        if spending.runs_in_flight >= self._max_runs:
            raise SessionCommandError(
                ErrorCode.TOO_MANY_RUNS,
                f"You have {spending.runs_in_flight} runs in flight, the most allowed at once (MAX_RUNS_PER_USER); "
                "wait for one to finish or cancel one.",
            )
        if self._usd_per_day is None:
            return budget
        left = self._usd_per_day - spending.spent_usd - spending.in_flight_usd
        if left < CENT:
            raise SessionCommandError(
                ErrorCode.SPENDING_LIMIT,
                f"You have spent ${spending.spent_usd:.4f} today (UTC) and your runs in flight may spend "
                f"${spending.in_flight_usd:.4f} more, of ${self._usd_per_day:.2f} a day (USER_USD_PER_DAY); "
                "try again tomorrow or ask the operator.",
            )
        share = min(left, self._usd_per_day / self._max_runs)  # so the runs allowed at once can all run
        max_usd = share if budget.max_usd is None else min(budget.max_usd, share)
        return dataclasses.replace(budget, max_usd=round(max_usd, 6))
