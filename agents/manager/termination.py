"""When a run ends, and why.

Only the Manager ends a run: by calling finish(), or (fallback) with TERMINATE on the last line of its message.
The task text never ends a run (it comes from the source "user"), nor does a worker writing TERMINATE. We do
not use TextMentionTermination (a Manager quoting the task would end the run) nor FunctionCallTermination
(it also fires on a finish() call whose arguments failed validation, which leaves no answer to deliver).

RunSupervisor also ends a run that makes no progress (NO_PROGRESS) and one whose budget is spent, after the
Manager was asked to finish (BUDGET); see agents/manager/run_control.py. Each condition records its TerminationLabel
in StopCause, since AutoGen resets the conditions before the session can look.
"""

from __future__ import annotations

from collections.abc import Sequence

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.conditions import ExternalTermination, MaxMessageTermination, TimeoutTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StopMessage, TextMessage

from agents.manager.grammar import TERMINATE_AT_END, strip_control_words
from agents.manager.moves import MoveKind, manager_moves
from agents.manager.run_control import RunControl
from agents.stop import TerminationLabel

__all__ = ["StopCause", "build_termination", "is_final_answer", "strip_control_words", "RunSupervisor"]


def is_final_answer(message: BaseAgentEvent | BaseChatMessage, manager: str) -> bool:
    """True for a Manager text message whose last line ends with TERMINATE (the text fallback of finish())."""
    return (
        isinstance(message, TextMessage)
        and message.source == manager
        and bool(TERMINATE_AT_END.search(message.content))
    )


class StopCause:
    """Which of our conditions stopped the last run_stream() call (AutoGen resets them before we can look)."""

    def __init__(self) -> None:
        self.labels: list[TerminationLabel] = []

    def clear(self) -> None:
        self.labels.clear()


class LabelledTermination(TerminationCondition):
    """Wraps a condition and records its label in a StopCause when it fires."""

    def __init__(self, inner: TerminationCondition, label: TerminationLabel, cause: StopCause) -> None:
        self._inner = inner
        self._label = label
        self._cause = cause

    @property
    def terminated(self) -> bool:
        return self._inner.terminated

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        stop = await self._inner(messages)
        if stop is not None:
            self._cause.labels.append(self._label)
        return stop

    async def reset(self) -> None:
        await self._inner.reset()


class RunSupervisor(TerminationCondition):
    """Reads every Manager decision once: finish ends the run (COMPLETED), stalls feed the no-progress guard
    (NO_PROGRESS), and the budget triggers the wrap-up turn, after which the run ends (BUDGET).

    A new task from the person starts the run's counters afresh, so the team is bounded even when nobody calls
    TeamControls.begin_run (which also sets that run's budget)."""

    def __init__(self, *, manager: str, workers: Sequence[str], control: RunControl, cause: StopCause) -> None:
        self._manager = manager
        self._workers = list(workers)
        self._control = control
        self._cause = cause
        self._terminated = False

    @property
    def terminated(self) -> bool:
        return self._terminated

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        if self._terminated:
            raise TerminatedException("Termination condition has already been reached")
        control = self._control
        if any(isinstance(m, BaseChatMessage) and m.source == "user" for m in messages):
            control.begin()
        control.sources.observe(messages)
        label: TerminationLabel | None = None
        moves = manager_moves(messages, self._manager, self._workers)
        if moves:
            move = moves[-1]
            if control.wrap_up:
                label = TerminationLabel.BUDGET  # the Manager had its turn to finish within the budget
            elif move.kind == MoveKind.FINISH:
                if not control.recheck_sources(move.sources):  # else asked once to fix unread sources
                    label = TerminationLabel.COMPLETED
            else:
                control.note_move(move)
                if control.gives_up():
                    label = TerminationLabel.NO_PROGRESS
        if label is None:
            control.check_budget()
            return None
        self._terminated = True
        self._cause.labels.append(label)
        return StopMessage(content=f"Run ended: {label.value}", source="RunSupervisor")

    async def reset(self) -> None:
        self._terminated = False


def build_termination(
    *,
    manager: str,
    workers: Sequence[str],
    control: RunControl,
    max_messages: int,
    timeout_s: float,
    pause: ExternalTermination,
    cause: StopCause,
) -> TerminationCondition:
    """Finish, no progress or budget (RunSupervisor) OR message cap OR run timeout OR pause, each labelled."""
    return (
        RunSupervisor(manager=manager, workers=workers, control=control, cause=cause)
        | LabelledTermination(MaxMessageTermination(max_messages), TerminationLabel.MAX_MESSAGES, cause)
        | LabelledTermination(TimeoutTermination(timeout_s), TerminationLabel.TIMEOUT, cause)
        | LabelledTermination(pause, TerminationLabel.PAUSED, cause)
    )
