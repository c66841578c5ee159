"""Scripted chat completions: replies queued per role (manager, researcher, developer, selector).

    script = ChatScript()
    script.add("manager", "Find the weather in Paris.\\nNEXT AGENT: Researcher")
    script.add("researcher", tool_call("web_search", {"query": "weather Paris"}), "It is 18 C and sunny.")
    script.add("manager", "It is 18 C and sunny in Paris.\\nTERMINATE")

The role of a request comes from `role_of(body)`: by default "selector" for AutoGen's selector prompt
("... select the next role ..."), else the lowercased name in "You are the (Manager|Researcher|Developer)"
of the first system message, else "unknown". An empty queue answers HTTP 500 naming the role, so the test fails
loudly (use `script.fallback(role, reply)` for a reply that repeats).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.chat.replies import Reply

_ROLE_RE = re.compile(r"You are the (Manager|Researcher|Developer)\b")
_SELECTOR_RE = re.compile(r"select the next role", re.IGNORECASE)


def message_text(message: Mapping[str, Any]) -> str:
    """All text of a chat message: string content, text parts, tool call names and arguments."""
    content = message.get("content")
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        parts.append(str(function.get("name", "")) + str(function.get("arguments", "")))
    return "\n".join(parts)


def default_role_of(body: Mapping[str, Any]) -> str:
    """ "selector" for AutoGen's selector prompt, else manager/researcher/developer from the first system
    message's "You are the <Name>", else "unknown"."""
    messages = list(body.get("messages") or [])
    if messages and _SELECTOR_RE.search(message_text(messages[0])):
        return "selector"
    for message in messages:
        if message.get("role") in ("system", "developer"):
            if _SELECTOR_RE.search(message_text(message)):
                return "selector"
            match = _ROLE_RE.search(message_text(message))
            return match.group(1).lower() if match else "unknown"
    return "unknown"


def estimate_tokens(chars: int) -> int:
    """About four characters per token, at least one."""
    return max(1, math.ceil(chars / 4))


class ChatScript:
    """Queues of scripted replies per role key (thread-safe)."""

    def __init__(self, role_of: Callable[[Mapping[str, Any]], str] = default_role_of) -> None:
        self.role_of = role_of
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._fallbacks: dict[str, Reply] = {}

    def add(self, role: str, *replies: Reply) -> ChatScript:
        """Queue replies for `role` (a str is a text reply)."""
        with self._lock:
            self._queues[role.lower()].extend(replies)
        return self

    def extend(self, role: str, replies: Sequence[Reply]) -> ChatScript:
        return self.add(role, *replies)

    def fallback(self, role: str, reply: Reply) -> ChatScript:
        """A reply used (again and again) when `role`'s queue is empty."""
        with self._lock:
            self._fallbacks[role.lower()] = reply
        return self

    def remaining(self, role: str | None = None) -> int:
        with self._lock:
            if role is None:
                return sum(len(q) for q in self._queues.values())
            return len(self._queues[role.lower()])

    def pop(self, role: str) -> Reply | None:
        """The next reply for `role` (its fallback when the queue is empty, None when there is neither)."""
        with self._lock:
            queue = self._queues[role.lower()]
            if queue:
                return queue.popleft()
            return self._fallbacks.get(role.lower())


@dataclass
class ChatRequest:
    """One chat completion request as the fake saw it."""

    index: int
    role: str
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    stream: bool
    body: dict[str, Any]
    reply: Reply | None = None
    status: int = 200
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefix_tokens: int = 0  # tokens at the start of the prompt already sent in an earlier request (same model)
    cached_tokens: int = 0  # what OpenAI's prompt cache would serve of them (see PromptCache)
    reasoning_tokens: int = 0  # of completion_tokens: REASONING_TOKENS[reasoning_effort]
    time: float = field(default_factory=time.time)

    @property
    def tool_names(self) -> list[str]:
        return [str((t.get("function") or {}).get("name", "")) for t in self.tools]
