"""One short line per team event, for people watching a run from elsewhere: MCP progress notifications and the
CLI's live view. The page has its own, richer timeline (app/static/js/timeline.js)."""

from __future__ import annotations

import json
from typing import Any

MAX_STEP_CHARS = 160


def _clip(text: str, limit: int = MAX_STEP_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arguments(raw: Any) -> str:
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return _clip(str(raw), 60)
    if isinstance(args, dict):
        return ", ".join(f"{k}={_clip(str(v), 50)}" for k, v in args.items())
    return _clip(str(args), 60)


def describe_step(event: dict[str, Any]) -> str | None:
    """A line for a team event (an envelope as sent on /ws/team), or None for events not worth a line."""
    data = event.get("data") or {}
    kind = event.get("type")
    if event.get("source") != "team":
        if kind == "run_started":
            return f"The team starts on: {_clip(str(data.get('task', '')), 100)}"
        if kind == "error":
            return f"Problem: {_clip(str(data.get('message', '')))}"
        return None
    source = str(data.get("source", "team"))
    content = data.get("content")
    if kind == "ToolCallRequestEvent" and isinstance(content, list):
        calls = [f"{c.get('name')}({_arguments(c.get('arguments'))})" for c in content if isinstance(c, dict)]
        return _clip(f"{source} calls {', '.join(calls)}")
    if kind == "ToolCallExecutionEvent" and isinstance(content, list):
        failed = sum(1 for c in content if isinstance(c, dict) and c.get("is_error"))
        names = ", ".join(str(c.get("name")) for c in content if isinstance(c, dict))
        return f"{source}: {names} {'failed' if failed else 'returned'}"
    if kind == "TextMessage" and isinstance(content, str) and source != "user":
        return _clip(f"{source}: {content}")
    return None
