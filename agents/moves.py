"""What the Manager decided in one turn, read the same way by routing, termination and the final answer.

Function calls first (`finish`, `delegate`), then the text grammar (TERMINATE, NEXT AGENT, a worker addressed
in prose), else the turn decided nothing. See agents/grammar.py and agents/manager_tools.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage, ToolCallSummaryMessage

from agents.grammar import addressed_worker, ends_with_terminate, named_next_agent, strip_control_words, urls_in
from agents.manager_tools import DELEGATE, FINISH, call_arguments

_NON_WORD = re.compile(r"\W+")


class MoveKind(StrEnum):
    FINISH = "finish"
    DELEGATE = "delegate"
    NONE = "none"  # neither delegated nor finished


class Via(StrEnum):
    TOOL = "tool"  # a delegate()/finish() call
    TEXT = "text"  # NEXT AGENT / TERMINATE
    PROSE = "prose"  # a worker addressed by name, or nothing recognisable


@dataclass(frozen=True)
class ManagerMove:
    kind: MoveKind
    via: Via
    text: str = ""  # the answer, the instructions, or the undecided prose
    agent: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Identity for "the Manager repeats itself": same kind, same agent, same words (case and spacing aside)."""
        words = _NON_WORD.sub(" ", self.text).strip().lower()
        return f"{self.kind}|{self.agent}|{words}"


def read_move(message: BaseChatMessage, workers: Sequence[str]) -> ManagerMove:
    """The decision in one of the Manager's chat messages."""
    if isinstance(message, ToolCallSummaryMessage):
        return _from_calls(message, workers)
    text = message.to_text() if not isinstance(message, TextMessage) else message.content
    if ends_with_terminate(text):
        answer = strip_control_words(text)
        return ManagerMove(MoveKind.FINISH, Via.TEXT, answer, sources=tuple(urls_in(answer)))
    named = named_next_agent(text, workers)
    if named is not None:
        return ManagerMove(MoveKind.DELEGATE, Via.TEXT, strip_control_words(text), agent=named)
    addressed = addressed_worker(text, workers)
    if addressed is not None:
        return ManagerMove(MoveKind.DELEGATE, Via.PROSE, text.strip(), agent=addressed)
    return ManagerMove(MoveKind.NONE, Via.PROSE, text.strip())


def _from_calls(message: ToolCallSummaryMessage, workers: Sequence[str]) -> ManagerMove:
    """finish() wins over delegate(); the last good delegate() counts; a failed call decides nothing."""
    failed = {r.call_id for r in message.results if r.is_error}
    delegation: ManagerMove | None = None
    for call in message.tool_calls:
        args = call_arguments(call)
        if call.id in failed or args is None:
            continue
        if call.name == FINISH and str(args.get("answer", "")).strip():  # an empty answer finishes nothing
            sources = tuple(str(s) for s in args.get("sources") or [] if str(s).strip())
            return ManagerMove(MoveKind.FINISH, Via.TOOL, str(args["answer"]).strip(), sources=sources)
        if call.name == DELEGATE and args.get("agent") in workers:
            delegation = ManagerMove(
                MoveKind.DELEGATE, Via.TOOL, str(args.get("instructions", "")).strip(), agent=str(args["agent"])
            )
    return delegation or ManagerMove(MoveKind.NONE, Via.TOOL, message.content.strip())


def manager_moves(
    messages: Sequence[BaseAgentEvent | BaseChatMessage], manager: str, workers: Sequence[str]
) -> list[ManagerMove]:
    """Every decision of the Manager in `messages`, in order."""
    return [read_move(m, workers) for m in messages if isinstance(m, BaseChatMessage) and m.source == manager]
