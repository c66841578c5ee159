"""The state that keeps one run moving and bounded: the no-progress guard and the budget wrap-up.

Termination (agents/manager/termination.py) feeds it every Manager decision; routing (agents/manager/routing.py) reads it to
send the turn back to the Manager; the Manager's model client (agents/manager/steering.py) reads it to force a tool
call; the Manager's model context (agents/manager/contexts.py) reads it to say why.

- A Manager turn that neither delegates nor finishes, or that repeats an earlier decision of the run, is a
  stall: the Manager's next call is forced to decide (tool_choice "required": delegate or finish). After
  `max_stalls` stalls in a row the run stops (NO_PROGRESS) with the best answer so far. Stalls include a turn
  with several decisions (agents/manager/moves.py) and a turn the model broke off: empty (or refused), cut off at the
  length limit, stopped by the content filter. The Manager's client reports those (`note_reply`), so routing
  sends the turn back to the Manager without asking the selector model, and the note says what went wrong.
- When the Manager finishes citing sources no tool of the run returned (agents/manager/sources.py), it is asked once,
  while the budget lasts, to replace or drop them (tool_choice: finish); its next finish() ends the run.
- When the budget is reached, the Manager is asked once to finish (tool_choice: finish) and workers are told to
  report without more tools (tool_choice "none"); after that Manager turn the run stops (BUDGET).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agents.manager.moves import ManagerMove, MoveKind
from agents.manager.sources import SourceLedger
from agents.models.budget import BudgetTracker, RunBudget

_BROKEN = {"length": "cut", "content_filter": "filtered"}  # finish_reason -> NOTES key

_GAVE_UP = {
    "repeated": "repeated an earlier step",
    "several": "made several decisions at once",
    "failed": "made a call that failed",
}


class Force(StrEnum):
    DECIDE = "decide"  # call delegate or finish
    FINISH = "finish"  # call finish


NOTES = {
    "undecided": "Your last message neither delegated nor finished. Call delegate() for the next step, or "
    "finish() with the answer and its sources.",
    "repeated": "You are repeating an earlier step. Do not repeat it: call finish() with what the team found, or "
    "delegate() something new.",
    "several": "Your last message made several decisions at once, so none of them was carried out. Make "
    "exactly one tool call, with no other decision in your text: delegate() the next step, or finish() once the "
    "team has the facts.",
    "failed": "Your last call failed (its result says why), so nothing was decided. Call delegate() or finish() "
    "again, with complete arguments.",
    "empty": "Your last message was empty (or a refusal), so nothing was decided. Call delegate() for the next "
    "step, or finish() with the answer and its sources.",
    "cut": "Your last message was cut off at the length limit before it decided anything. Keep this one short: "
    "call delegate() for the next step, or finish() with the answer and its sources.",
    "filtered": "Your last message was stopped by the content filter before it decided anything. Call "
    "delegate() for the next step, or finish() with the answer and its sources, in plain neutral words.",
    "sources": "These sources of your answer were not returned by any tool in this run, so nobody read them: "
    "{sources}. Call finish() again: replace each with a source the team read, or drop it (and any claim only it "
    "supports).",
    "budget": "This run's budget is spent. Call finish() now with the best answer from what the team found, and "
    "say what is missing.",
}


@dataclass
class RunControl:
    tracker: BudgetTracker
    max_stalls: int = 2
    stalls: int = 0
    force: Force | None = None
    reason: str | None = None  # key of NOTES: why the Manager is forced
    wrap_up: bool = False  # the budget is reached and the Manager was asked to finish
    detail: str | None = None  # for the person: why the run is being stopped (budget, no progress)
    broken: str | None = None  # the Manager's last reply was "empty", "cut" or "filtered" (NOTES keys)
    _seen: deque[str] = field(default_factory=lambda: deque(maxlen=64))
    sources: SourceLedger = field(default_factory=SourceLedger)  # what this run's tools returned
    unverified: list[str] | None = None  # the sources the Manager was asked to fix (once per run)

    def begin(self, budget: RunBudget | None = None) -> None:
        """A new run: fresh counters and guard (the budget stays unless a new one is given)."""
        self.tracker.begin(budget if budget is not None else self.tracker.budget)
        self.stalls, self.force, self.reason, self.wrap_up, self.detail = 0, None, None, False, None
        self.broken = None
        self._seen.clear()
        self.sources.clear()
        self.unverified = None

    def note_reply(self, finish_reason: str, content: object) -> None:
        """What the Manager's model call returned: broken off (see NOTES) or not. Called by its client."""
        empty = isinstance(content, str) and not content.strip()
        self.broken = _BROKEN.get(finish_reason) or ("empty" if empty else None)

    def note_move(self, move: ManagerMove) -> None:
        """Count a Manager decision that did not finish the run."""
        repeated = move.key in self._seen
        self._seen.append(move.key)
        if move.kind == MoveKind.NONE:
            self.stalls += 1
            self.force, self.reason = Force.DECIDE, move.stall or self.broken or "undecided"
        elif repeated:
            self.stalls += 1
            self.force, self.reason = Force.DECIDE, "repeated"
        else:
            self.stalls, self.force, self.reason = 0, None, None

    def gives_up(self) -> bool:
        """Whether the guard stops the run now (with the best answer so far); says why in `detail`."""
        if self.stalls < self.max_stalls:
            return False
        what = _GAVE_UP.get(self.reason or "", "neither delegated nor finished")
        self.detail = f"The Manager {what} {self.stalls} times in a row, even when asked to decide."
        return True

    def recheck_sources(self, cited: Sequence[str]) -> bool:
        """True when a finish() cites sources no tool returned, the first time in the run and while the budget
        lasts: the Manager is then asked to replace or drop them, and the run goes on."""
        if self.unverified is not None or self.tracker.exhausted() is not None:
            return False
        unverified = self.sources.unverified(cited)
        if not unverified:
            return False
        self.unverified, self.force, self.reason = unverified, Force.FINISH, "sources"
        return True

    def check_budget(self) -> bool:
        """True the first time the budget is found reached: the Manager is then asked to finish."""
        limit = None if self.wrap_up else self.tracker.exhausted()
        if limit is None:
            return False
        self.wrap_up, self.force, self.reason = True, Force.FINISH, "budget"
        budget, spent = self.tracker.budget.as_dict(), self.tracker.spent()
        self.detail = (
            f"The run's budget of {budget['max_' + limit]} {limit.replace('_', ' ')} was reached ({spent[limit]} used)."
        )
        return True

    def note(self) -> str | None:
        """What the Manager is told on a forced turn."""
        if self.force is None or not self.reason:
            return None
        return NOTES[self.reason].format(sources=", ".join(self.unverified or ()))
