"""Short progress lines for the narrator from team events: `[TEAM Researcher] searching the web for ...`.

Tool outputs are summarized, never passed whole (the recorded session pushed whole web pages at the model).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

MAX_LINE = 300


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _arguments(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


TOOL_PHRASES: dict[str, Callable[[dict[str, Any]], str]] = {
    "web_search": lambda a: f'searching the web for "{a.get("query", "")}"',
    "fetch_web_content": lambda a: f"reading {a.get('url', 'a web page')}",
    "wikipedia_search": lambda a: f'looking up "{a.get("query", "")}" on Wikipedia',
    "arxiv_search": lambda a: f'searching arXiv for "{a.get("query", "")}"',
    "run_python": lambda a: "running Python code",
}


def _tool_phrase(name: str, arguments: dict[str, Any]) -> str:
    phrase = TOOL_PHRASES.get(name)
    return phrase(arguments) if phrase else f"using {name or 'a tool'}"


def progress_line(event: dict[str, Any]) -> str | None:
    """A one-line summary of a team event for the narrator, or None if it is not worth telling."""
    kind, data = event.get("type"), event.get("data") or {}
    agent = data.get("source", "team")
    if kind == "TextMessage" and agent != "user":
        return _clip(f"[TEAM {agent}] {data.get('content', '')}", MAX_LINE)
    if kind == "ToolCallRequestEvent":
        calls = [_tool_phrase(c.get("name", ""), _arguments(c.get("arguments", ""))) for c in data.get("content", [])]
        return _clip(f"[TEAM {agent}] " + "; ".join(calls), MAX_LINE)
    if kind == "ToolCallExecutionEvent":
        parts = []
        for result in data.get("content", []):
            status = "failed" if result.get("is_error") else "done"
            parts.append(f"{result.get('name', 'tool')} {status}: {_clip(result.get('content', ''), 120)}")
        return _clip(f"[TEAM {agent}] " + "; ".join(parts), MAX_LINE)
    if kind == "error":
        return _clip(f"[TEAM error] {data.get('message', '')}", MAX_LINE)
    return None


def finished_line(event: dict[str, Any]) -> str:
    """The [RUN_FINISHED] item text: the final answer, or why there is none, and what its sources are worth."""
    data = event.get("data") or {}
    reason = data.get("stop_reason")
    answer, read, warning = checked_answer(data)
    answer = f"{warning} {answer} {read}".strip()  # the warning first: a clipped line still carries it
    if reason == "completed" and answer:
        return f"[RUN_FINISHED] {answer}"
    if reason in ("cancelled", "reset", "closed"):
        return f"[RUN_FINISHED] (the team stopped: {reason}.) {answer}".strip()
    if reason == "error":
        return f"[RUN_FINISHED] (the team hit an error: {data.get('error', 'unknown')}.) {answer}".strip()
    return f"[RUN_FINISHED] (stopped early: {reason}; best answer so far:) {answer}".strip()


def checked_answer(data: dict[str, Any]) -> tuple[str, str, str]:
    """(answer, read, warning): the answer without the URLs of sources no tool of the run returned, a note
    naming the sources the team read, and a warning not to give the others as fact (run_finished's
    source_entries, agents/manager/sources.py). No notes when the server did not check sources."""
    answer = (data.get("final_answer") or "").strip()
    entries = [e for e in data.get("source_entries") or [] if isinstance(e, dict) and e.get("url")]
    if not entries:
        return answer, "", ""
    read = [str(e.get("title") or _host(str(e["url"]))) for e in entries if e.get("verified")]
    unread = [str(e["url"]) for e in entries if not e.get("verified")]
    for url in unread:
        answer = answer.replace(url, _host(url))
    warning = (
        f"(UNVERIFIED sources, which no tool of the team returned: {', '.join(_host(u) for u in unread)}. Do "
        "not present them, or anything only they support, as fact; say they are unverified.)"
        if unread
        else ""
    )
    return answer, f"(Sources the team read: {'; '.join(read)}.)" if read else "", warning


def _host(url: str) -> str:
    """A source as a listener hears it: its site, not its URL."""
    host = re.sub(r"^[a-z]+://", "", url.strip()).split("/", 1)[0]
    return host.removeprefix("www.") or url


SPOKEN_MAX_CHARS = 1200  # well under GPT-Live's 500-token commentary limit even for dense text (~2.4 chars/token)
_URL = re.compile(r"\(?https?://\S+\)?|\[(\d+)\]")
_SOURCES = re.compile(r"\n\s*(sources?|references?)\s*:.*", re.IGNORECASE | re.DOTALL)


def spoken_answer(event: dict[str, Any]) -> str:
    """The team's answer as GPT-Live commentary: what to say, without URLs, source lists or markdown, within
    the 500-token limit. The full answer with its sources stays on the page (the run_finished event)."""
    line = finished_line(event).removeprefix("[RUN_FINISHED] ")
    text = _SOURCES.sub("", line)
    text = _URL.sub("", text)
    text = re.sub(r"[*_`#>|]+", "", text)
    text = _clip(text, SPOKEN_MAX_CHARS)
    return "The team has finished. Tell the person, briefly, in your own words. Answer: " + text


class ProgressSchedule:
    """When to speak a progress update during a long run: the first `after_s` after the run starts, then
    every `after_s` again, at most `max_updates` per run (the realtime narrator; GPT-Live paces itself)."""

    def __init__(
        self,
        after_s: float,
        max_updates: int,
        speak: Callable[[], Awaitable[None]],
        spawn: Callable[[Awaitable[None]], None],
    ) -> None:
        self._after_s = after_s
        self._max_updates = max_updates
        self._speak = speak
        self._spawn = spawn
        self._timer: asyncio.TimerHandle | None = None
        self._spoken = 0

    def start(self) -> None:
        """A run started: count from zero."""
        self._spoken = 0
        self._arm()

    def stop(self) -> None:
        """The run ended (or the narrator closes): no more updates."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        self.stop()
        if self._spoken < self._max_updates:
            self._timer = asyncio.get_running_loop().call_later(self._after_s, lambda: self._spawn(self._fire()))

    async def _fire(self) -> None:
        self._timer = None
        self._spoken += 1
        await self._speak()
        self._arm()
