"""When a run ends, and why.

Only the Manager ends a run, and only with TERMINATE on the last line of its message. We do not use
TextMentionTermination: a Manager that quotes the task ("the user wrote TERMINATE ...") would end the run, and
its config drops `sources`. The task text itself never ends a run because it comes from the source "user".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.conditions import ExternalTermination, MaxMessageTermination, TimeoutTermination
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StopMessage, TextMessage

TERMINATE_AT_END = re.compile(r"\bTERMINATE\W*\s*$")
TERMINATE_ANYWHERE = re.compile(r"\s*\bTERMINATE\b[.!]?\s*")
NEXT_AGENT_LINE = re.compile(r"^\s*NEXT\s+AGENT\s*:.*$", re.IGNORECASE | re.MULTILINE)


def is_final_answer(message: BaseAgentEvent | BaseChatMessage, manager: str) -> bool:
    """True for a Manager text message whose last line ends with TERMINATE."""
    return (
        isinstance(message, TextMessage)
        and message.source == manager
        and bool(TERMINATE_AT_END.search(message.content))
    )


def strip_control_words(text: str) -> str:
    """Remove TERMINATE and NEXT AGENT lines: what is left is meant for the person."""
    text = NEXT_AGENT_LINE.sub("", text)
    return TERMINATE_ANYWHERE.sub(" ", text).strip()


class StopCause:
    """Which of our conditions stopped the last run_stream() call (AutoGen resets them before we can look)."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    def clear(self) -> None:
        self.labels.clear()


class LabelledTermination(TerminationCondition):
    """Wraps a condition and records its label in a StopCause when it fires."""

    def __init__(self, inner: TerminationCondition, label: str, cause: StopCause) -> None:
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


class ManagerFinalAnswer(TerminationCondition):
    """Fires when the Manager writes its final answer (TERMINATE on the last line)."""

    def __init__(self, manager: str) -> None:
        self._manager = manager
        self._terminated = False

    @property
    def terminated(self) -> bool:
        return self._terminated

    async def __call__(self, messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> StopMessage | None:
        if self._terminated:
            raise TerminatedException("Termination condition has already been reached")
        if any(is_final_answer(m, self._manager) for m in messages):
            self._terminated = True
            return StopMessage(content="The Manager gave the final answer", source="ManagerFinalAnswer")
        return None

    async def reset(self) -> None:
        self._terminated = False


def build_termination(
    *, manager: str, max_messages: int, timeout_s: float, pause: ExternalTermination, cause: StopCause
) -> TerminationCondition:
    """Final answer OR message cap OR run timeout OR pause, each labelled for StopCause."""
    return (
        LabelledTermination(ManagerFinalAnswer(manager), "completed", cause)
        | LabelledTermination(MaxMessageTermination(max_messages), "max_messages", cause)
        | LabelledTermination(TimeoutTermination(timeout_s), "timeout", cause)
        | LabelledTermination(pause, "paused", cause)
    )
