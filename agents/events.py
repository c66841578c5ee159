"""Turning AutoGen messages into our events, and finding the final answer in a finished run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, TextMessage

from agents.termination import is_final_answer, strip_control_words

AgentMessage = BaseAgentEvent | BaseChatMessage


def serialize_message(message: AgentMessage) -> tuple[str, str, dict[str, Any]]:
    """(type, source, data) for an AutoGen message. dump() is JSON-safe; model_dump() is not (datetimes)."""
    data = dict(message.dump())
    return str(data.get("type", type(message).__name__)), message.source, data


def final_answer(messages: Sequence[AgentMessage], manager: str) -> tuple[str, bool]:
    """The answer for the person and whether the Manager actually gave it.

    Prefers the Manager's final message; if that is only "TERMINATE", the last agent message with content.
    Without a final message (message cap, timeout) it is the last agent text, marked incomplete.
    """
    texts = [m for m in messages if isinstance(m, TextMessage) and m.source != "user"]
    complete = any(is_final_answer(m, manager) for m in texts)
    for message in reversed(texts):
        answer = strip_control_words(message.content)
        if answer:
            return answer, complete
    return "", complete
