"""Model contexts that give each agent what it needs instead of the whole transcript.

AutoGen hands every agent every chat message of the team; these contexts store them (bounded) and choose what
the model sees. The choice keeps the order the messages arrived in, and only ever appends within a run, so
consecutive calls of one agent share a long prefix (the system message and tools come first) and the
provider's prompt cache applies.

- A worker sees: the reports the workers made so far (the facts), the Manager's current instruction (the
  person's task when no instruction came after it), and its own tool loop for it. Not: the person's words
  (the Manager's instruction is self-contained), older instructions, older tool loops (calls and their long
  results), the Manager's answers.
- The Manager sees: earlier runs of the session as question and answer, and the current run in full (its own
  decisions and the workers' reports). On a forced turn (agents/manager/run_control.py) a closing note says why.
- Neither sees a worker's tool round that the same worker followed up (agents/manager/tool_reports.py: it went on to
  read a page, fix code, or pick the fact out): only the last word of each worker turn is a report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from autogen_core.model_context import ChatCompletionContext
from autogen_core.models import (
    AssistantMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)

from agents.manager.run_control import RunControl
from agents.manager.tools import FINISH, call_arguments

PERSON = "user"


class _StoredContext(ChatCompletionContext):
    """Stores about `max_stored` messages: when over, the oldest go, cut before a user message so that a tool
    call is never separated from its result (only one tool loop can hold it over the limit)."""

    def __init__(self, *, max_stored: int) -> None:
        super().__init__()
        self._max_stored = max_stored

    async def add_message(self, message: LLMMessage) -> None:
        await super().add_message(message)
        overflow = len(self._messages) - self._max_stored
        if overflow > 0:
            cut = next(
                (i for i in range(overflow, len(self._messages)) if isinstance(self._messages[i], UserMessage)), 0
            )
            del self._messages[:cut]


def _is_task(message: LLMMessage) -> bool:
    return isinstance(message, UserMessage) and message.source == PERSON


def _is_report(message: LLMMessage, workers: Sequence[str], me: str) -> bool:
    """A worker's text report (another worker's as a UserMessage, mine as an AssistantMessage)."""
    if isinstance(message, UserMessage):
        return message.source in workers
    return isinstance(message, AssistantMessage) and message.source == me and isinstance(message.content, str)


class WorkerContext(_StoredContext):
    def __init__(
        self, name: str, *, manager: str, workers: Sequence[str], max_facts: int = 8, max_stored: int = 400
    ) -> None:
        super().__init__(max_stored=max_stored)
        self._name, self._manager, self._workers = name, manager, list(workers)
        self._max_facts = max_facts

    async def get_messages(self) -> list[LLMMessage]:
        messages = self._messages
        instruction = _last_index(messages, lambda m: isinstance(m, UserMessage) and m.source == self._manager)
        task = _last_index(messages, _is_task)
        turn_start = max(instruction, task)  # my current turn: the instruction (or the task) and what follows
        facts = [
            i
            for i in range(turn_start)
            if _is_report(messages[i], self._workers, self._name) and not _followed_up(messages, i, self._workers)
        ]
        keep = facts[-self._max_facts :]
        return [messages[i] for i in keep] + (messages[turn_start:] if turn_start >= 0 else [])


class ManagerContext(_StoredContext):
    def __init__(
        self,
        name: str,
        *,
        control: RunControl,
        max_past_runs: int = 5,
        max_stored: int = 400,
        workers: Sequence[str] = ("Researcher", "Developer"),
    ) -> None:
        super().__init__(max_stored=max_stored)
        self._name, self._control, self._workers = name, control, list(workers)
        self._max_past_runs = max_past_runs

    async def get_messages(self) -> list[LLMMessage]:
        view = self._view()
        note = self._control.note()
        return [*view, SystemMessage(content=note)] if note else view

    def _view(self) -> list[LLMMessage]:
        messages = self._messages
        starts = [i for i, m in enumerate(messages) if _is_task(m)]
        if len(starts) <= 1:
            return [m for i, m in enumerate(messages) if not _followed_up(messages, i, self._workers)]
        past: list[LLMMessage] = []
        for begin, end in list(zip(starts, starts[1:], strict=False))[-self._max_past_runs :]:
            past.append(messages[begin])
            answer = self._answer_of(messages[begin + 1 : end])
            if answer:
                past.append(AssistantMessage(content=answer, source=self._name))
        current = range(starts[-1], len(messages))
        return [*past, *(messages[i] for i in current if not _followed_up(messages, i, self._workers))]

    def _answer_of(self, run: Sequence[LLMMessage]) -> str:
        """The Manager's last word in a past run: finish()'s answer, else its last text."""
        for message in reversed(run):
            if not isinstance(message, AssistantMessage) or message.source != self._name:
                continue
            if isinstance(message.content, str):
                return message.content
            for call in message.content:
                args = call_arguments(call) if call.name == FINISH else None
                if args is not None:
                    return str(args.get("answer", ""))
        return ""


def _followed_up(messages: Sequence[LLMMessage], i: int, workers: Sequence[str]) -> bool:
    """Whether messages[i] is a worker's message that the same worker followed directly (a tool round it went on
    from: only the last message of a worker's turn is its report)."""
    message = messages[i]
    if not isinstance(message, UserMessage) or message.source not in workers or i + 1 >= len(messages):
        return False
    after = messages[i + 1]
    return isinstance(after, UserMessage) and after.source == message.source


def _last_index(messages: Sequence[LLMMessage], predicate: Callable[[LLMMessage], bool]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if predicate(messages[i]):
            return i
    return -1
