"""What the Manager decided in one turn, read the same way by routing, termination and the final answer.

Function calls first (`finish`, `delegate`), then the text grammar (TERMINATE, NEXT AGENT, a worker addressed
in prose), else the turn decided nothing. See agents/manager/grammar.py and agents/manager/tools.py.

One decision per turn: a response with several decisions (two decision calls, a decision call beside any other
call, or a decision call whose text decides otherwise, e.g. delegate() with "... TERMINATE") decides nothing
(`stall="several"`), never a finish. The text beside tool calls reaches the team as a ThoughtEvent before the
call's summary; `manager_moves` and `last_move` read it with the summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    TextMessage,
    ThoughtEvent,
    ToolCallSummaryMessage,
)

from agents.manager.grammar import addressed_worker, ends_with_terminate, named_next_agent, strip_control_words, urls_in
from agents.manager.tools import DECISION_TOOLS, DELEGATE, FINISH, call_arguments

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
    stall: str | None = None  # why a NONE move decided nothing: "several" decisions, a "failed" call (else None)

    @property
    def key(self) -> str:
        """Identity for "the Manager repeats itself": same kind, same agent, same words (case and spacing aside)."""
        words = _NON_WORD.sub(" ", self.text).strip().lower()
        return f"{self.kind}|{self.agent}|{words}"


def read_move(message: BaseChatMessage, workers: Sequence[str], thought: str = "") -> ManagerMove:
    """The decision in one of the Manager's chat messages; `thought`: the text written beside its tool calls."""
    if isinstance(message, ToolCallSummaryMessage):
        move = _from_calls(message, workers)
        said = _text_decision(thought, workers) if move.kind != MoveKind.NONE else None
        if said is not None and (said.kind, said.agent) != (move.kind, move.agent):
            return ManagerMove(MoveKind.NONE, Via.TOOL, message.content.strip(), stall="several")
        return move
    text = message.to_text() if not isinstance(message, TextMessage) else message.content
    return _text_decision(text, workers) or _from_prose(text, workers)


def _text_decision(text: str, workers: Sequence[str]) -> ManagerMove | None:
    """TERMINATE or NEXT AGENT in `text`, else None."""
    if ends_with_terminate(text):
        answer = strip_control_words(text)
        return ManagerMove(MoveKind.FINISH, Via.TEXT, answer, sources=tuple(urls_in(answer)))
    named = named_next_agent(text, workers)
    if named is not None:
        return ManagerMove(MoveKind.DELEGATE, Via.TEXT, strip_control_words(text), agent=named)
    return None


def _from_prose(text: str, workers: Sequence[str]) -> ManagerMove:
    addressed = addressed_worker(text, workers)
    if addressed is not None:
        return ManagerMove(MoveKind.DELEGATE, Via.PROSE, text.strip(), agent=addressed)
    return ManagerMove(MoveKind.NONE, Via.PROSE, text.strip())


def _from_calls(message: ToolCallSummaryMessage, workers: Sequence[str]) -> ManagerMove:
    """The one decision call of the message; a decision call beside any other call decides nothing (a decision
    tool is exclusive), nor does a failed call, an empty answer or an unknown worker."""
    undecided = message.content.strip()
    calls = message.tool_calls
    if len(calls) > 1 and any(c.name in DECISION_TOOLS for c in calls):
        return ManagerMove(MoveKind.NONE, Via.TOOL, undecided, stall="several")
    failed = {r.call_id for r in message.results if r.is_error}
    for call in calls:
        args = call_arguments(call)
        if call.id in failed or args is None:
            return ManagerMove(MoveKind.NONE, Via.TOOL, undecided, stall="failed")
        if call.name == FINISH and str(args.get("answer", "")).strip():  # an empty answer finishes nothing
            sources = tuple(str(s) for s in args.get("sources") or [] if str(s).strip())
            return ManagerMove(MoveKind.FINISH, Via.TOOL, str(args["answer"]).strip(), sources=sources)
        if call.name == DELEGATE and args.get("agent") in workers:
            return ManagerMove(
                MoveKind.DELEGATE, Via.TOOL, str(args.get("instructions", "")).strip(), agent=str(args["agent"])
            )
    return ManagerMove(MoveKind.NONE, Via.TOOL, undecided)


def manager_moves(
    messages: Sequence[BaseAgentEvent | BaseChatMessage], manager: str, workers: Sequence[str]
) -> list[ManagerMove]:
    """Every decision of the Manager in `messages`, in order, each read with the text beside its calls."""
    moves: list[ManagerMove] = []
    thought = ""
    for message in messages:
        if isinstance(message, ThoughtEvent) and message.source == manager:
            thought = message.content
        elif isinstance(message, BaseChatMessage):
            if message.source == manager:
                moves.append(read_move(message, workers, thought))
            thought = ""
    return moves


def last_move(
    messages: Sequence[BaseAgentEvent | BaseChatMessage], manager: str, workers: Sequence[str]
) -> ManagerMove | None:
    """The decision of the last chat message when the Manager wrote it (with the text beside its calls)."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if not isinstance(message, BaseChatMessage):
            continue
        if message.source != manager:
            return None
        start = next((j + 1 for j in range(i - 1, -1, -1) if isinstance(messages[j], BaseChatMessage)), 0)
        return manager_moves(messages[start : i + 1], manager, workers)[-1]
    return None
