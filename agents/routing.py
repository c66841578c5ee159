"""Deterministic speaker selection, so the selector model is called only when the choice is genuinely open.

Rules, in order:
1. The person just spoke (new task or follow-up): the Manager plans.
2. The last message is a tool-call summary: the same agent speaks again to use the tool results.
3. The Manager named the next agent ("NEXT AGENT: Researcher"): that agent.
4. A worker (Researcher, Developer) just reported: back to the Manager.
5. Anything else (the Manager named nobody): None, and SelectorGroupChat asks the selector model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, ToolCallSummaryMessage

NEXT_AGENT = re.compile(r"NEXT\s+AGENT\s*:\s*[*_`\"']*\s*([A-Za-z][\w-]*)", re.IGNORECASE)

SelectorFunc = Callable[[Sequence[BaseAgentEvent | BaseChatMessage]], str | None]


def named_next_agent(text: str, participants: Sequence[str]) -> str | None:
    """The participant named on the last "NEXT AGENT:" line of text, if it is a real participant."""
    by_lower = {name.lower(): name for name in participants}
    for match in reversed(NEXT_AGENT.findall(text)):
        if match.lower() in by_lower:
            return by_lower[match.lower()]
    return None


def make_selector(manager: str, workers: Sequence[str]) -> SelectorFunc:
    """Build the selector_func for a team with one manager and some workers."""
    participants = [manager, *workers]

    def select(thread: Sequence[BaseAgentEvent | BaseChatMessage]) -> str | None:
        chat = [m for m in thread if isinstance(m, BaseChatMessage)]
        if not chat:
            return manager
        last = chat[-1]
        if isinstance(last, ToolCallSummaryMessage) and last.source in workers:
            return last.source
        if last.source not in participants:  # the person (source "user") spoke
            return manager
        if last.source == manager:
            return named_next_agent(last.to_text(), workers)
        return manager

    return select
