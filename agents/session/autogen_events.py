"""Turning AutoGen messages into our events, and finding the final answer in a finished run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage

from agents.manager.grammar import strip_control_words, urls_in
from agents.manager.moves import MoveKind, read_move

AgentMessage = BaseAgentEvent | BaseChatMessage


@dataclass(frozen=True)
class FinalAnswer:
    text: str
    sources: list[str] = field(default_factory=list)
    complete: bool = False  # the Manager gave it (finish() or TERMINATE), not the best text found so far


def serialize_message(message: AgentMessage) -> tuple[str, str, dict[str, Any]]:
    """(type, source, data) for an AutoGen message. dump() is JSON-safe; model_dump() is not (datetimes)."""
    data = dict(message.dump())
    return str(data.get("type", type(message).__name__)), message.source, data


def extract_answer(messages: Sequence[AgentMessage], manager: str, workers: Sequence[str] = ()) -> FinalAnswer:
    """The answer for the person.

    The Manager's finish() call gives it exactly (text and sources from its arguments); the text fallback is
    its message ending with TERMINATE (sources: the URLs in it). Without either (no progress, budget, message
    cap, timeout) it is the best text so far, marked incomplete: the last agent text that is not a delegation.
    `workers` only matters for telling prose delegations apart; by default any name addressed counts.
    """
    chat = [m for m in messages if isinstance(m, BaseChatMessage) and m.source != "user"]
    names = list(workers) or sorted({m.source for m in chat if m.source != manager})
    finished = False
    for message in reversed(chat):
        if message.source != manager:
            continue
        move = read_move(message, names)
        if move.kind == MoveKind.FINISH:
            if move.text:
                return FinalAnswer(move.text, list(move.sources) or urls_in(move.text), complete=True)
            finished = True  # a bare TERMINATE: the answer is the text before it
            break
    for message in reversed(chat):
        if not isinstance(message, TextMessage):
            continue  # tool-call summaries: a delegation, a failed call, or a worker's raw tool output
        if message.source == manager and read_move(message, names).kind == MoveKind.DELEGATE:
            continue
        text = strip_control_words(message.content)
        if text:
            return FinalAnswer(text, urls_in(text), complete=finished)
    return FinalAnswer("", [], complete=finished)
