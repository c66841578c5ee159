"""Deterministic speaker selection, so the selector model is called only when the choice is genuinely open.

Rules, in order:
1. The person just spoke (new task or follow-up): the Manager plans.
2. The run's budget is spent: the Manager, to finish with what it has (agents/manager/run_control.py).
3. The last message is a worker's tool round (a ToolCallSummaryMessage: workers do not restate by themselves,
   agents/manager/tool_reports.py): the results go to the Manager as they are when they answer the instruction;
   else, and for at most `max_tool_rounds` rounds in a row, the same worker speaks again to use them. This
   rule holds with the selector model too (a worker's tool loop is not a choice of speaker), which is then
   asked instead of routing to the Manager.
4. The Manager decided (agents/manager/moves.py): delegate() or NEXT AGENT or "Researcher, please ...": that worker.
5. The Manager decided nothing: in its opening move, before any worker reported, when it wrote something that
   might name the next step, the choice is open: None, and SelectorGroupChat asks the selector model.
   Otherwise the Manager again, and that turn is forced to call delegate() or finish(): later in the run (most
   often a final answer without finish() or TERMINATE), and at any time for a turn with several decisions, a
   failed call, or one the model broke off (empty or refused, cut off, filtered: agents/manager/run_control.py), so
   these recoveries hold without the selector model.
6. A worker just reported: back to the Manager.

The text grammar (`NEXT_AGENT_PATTERN`, re-exported here) lives in agents/manager/grammar.py with TERMINATE, so
routing, termination and the page share one definition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage, ToolCallSummaryMessage

from agents.manager.grammar import NEXT_AGENT, NEXT_AGENT_FLAGS, NEXT_AGENT_PATTERN, named_next_agent
from agents.manager.moves import MoveKind, last_move, read_move
from agents.manager.run_control import RunControl
from agents.manager.tool_reports import restate_reason

__all__ = ["NEXT_AGENT", "NEXT_AGENT_FLAGS", "NEXT_AGENT_PATTERN", "make_selector", "named_next_agent"]

SelectorFunc = Callable[[Sequence[BaseAgentEvent | BaseChatMessage]], str | None]


def make_selector(
    manager: str,
    workers: Sequence[str],
    control: RunControl | None = None,
    *,
    deterministic: bool = True,
    max_tool_rounds: int = 4,
) -> SelectorFunc:
    """The selector_func for a team with one manager and some workers. With `deterministic=False` only the
    budget wrap-up and a worker's tool loop are routed by rule; every other turn asks the selector model."""
    participants = [manager, *workers]

    def select(thread: Sequence[BaseAgentEvent | BaseChatMessage]) -> str | None:
        chat = [m for m in thread if isinstance(m, BaseChatMessage)]
        if not chat:
            return manager
        if control is not None and control.wrap_up:
            return manager
        last = chat[-1]
        if isinstance(last, ToolCallSummaryMessage) and last.source in workers:
            if _rounds(chat, last.source) < max_tool_rounds and restate_reason(
                last, _instruction(chat, manager, workers)
            ):
                return last.source
            return manager if deterministic else None
        if not deterministic:
            return None
        if last.source not in participants:  # the person (source "user") spoke
            return manager
        if last.source != manager:
            return manager
        move = last_move(thread, manager, workers)
        if move is None or move.kind == MoveKind.FINISH:
            return manager
        if move.kind == MoveKind.DELEGATE:
            return move.agent
        opening = isinstance(last, TextMessage) and last.content.strip() and not _worker_reported(chat, workers)
        if opening and not _broken(control):
            return None
        return manager

    return select


def _rounds(chat: Sequence[BaseChatMessage], worker: str) -> int:
    """The worker's tool rounds in a row at the end of the thread."""
    count = 0
    for message in reversed(chat):
        if not (isinstance(message, ToolCallSummaryMessage) and message.source == worker):
            break
        count += 1
    return count


def _instruction(chat: Sequence[BaseChatMessage], manager: str, workers: Sequence[str]) -> str:
    """What the working worker was asked: the Manager's last delegation (its words), else the person's task."""
    text = ""
    for message in reversed(chat):
        if message.source in workers:
            continue
        text = read_move(message, workers).text if message.source == manager else message.to_text()
        break
    for name in (manager, *workers):  # who is addressed is not what is asked
        text = re.sub(rf"\b{re.escape(name)}\b", " ", text, flags=re.IGNORECASE)
    return text


def _broken(control: RunControl | None) -> bool:
    """Whether the Manager's last reply was broken off (empty or refused, cut off, filtered)."""
    return control is not None and control.broken is not None


def _worker_reported(chat: Sequence[BaseChatMessage], workers: Sequence[str]) -> bool:
    """Whether a worker spoke since the person's last message."""
    for message in reversed(chat):
        if message.source in workers:
            return True
        if message.source == "user":
            return False
    return False
