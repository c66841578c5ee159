"""One short line per team event, in words, for people watching a run from elsewhere: MCP progress
notifications, the CLI's live view and `runs show`. The page has its own, richer timeline
(app/static/js/timeline.js).

People never see the team's grammar: "NEXT AGENT:", "TERMINATE", "TASK:" or a "FINAL ANSWER:" label become
words ("the Manager asks the Researcher to …"), and known tools say what they do ("searches the web for …").
"""

from __future__ import annotations

import json
import re
from typing import Any

from agents.manager.grammar import named_next_agent, strip_control_words

MAX_STEP_CHARS = 160
WORKERS = ("Researcher", "Developer")
LABEL = re.compile(r"^\s*[*_]*\s*(?:final\s+answer|task|answer)\s*[*_]*\s*:\s*", re.IGNORECASE)


def _clip(text: str, limit: int = MAX_STEP_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(raw: Any) -> dict[str, Any]:
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return args if isinstance(args, dict) else {}


def _arguments(raw: Any) -> str:
    args = _args(raw)
    if args:
        return ", ".join(f"{k}={_clip(str(v), 50)}" for k, v in args.items())
    return _clip(str(raw), 60)


def in_words(text: str) -> str:
    """Text meant for people: control words and labels gone."""
    return LABEL.sub("", strip_control_words(text)).strip()


def _call(source: str, call: dict[str, Any]) -> str:
    name, args = str(call.get("name")), _args(call.get("arguments"))
    if name == "delegate":
        return f"The {source} asks the {args.get('agent', 'team')} to {_lower_first(str(args.get('instructions', '')))}"
    if name == "finish":
        return f"The {source} writes the answer"
    query = _clip(str(args.get("query", "")), 80)
    known = {
        "web_search": f'searches the web for "{query}"',
        "fetch_web_content": f"reads {_clip(str(args.get('url', '')), 90)}",
        "wikipedia_search": f'looks up "{query}" on Wikipedia',
        "arxiv_search": f'searches arXiv for "{query}"',
        "run_python": "runs Python code",
    }
    return f"The {source} " + known.get(name, f"calls {name}({_arguments(call.get('arguments'))})")


def _lower_first(text: str) -> str:
    """ "Find the weather" -> "find the weather"; an acronym ("NASA's …") keeps its capitals."""
    text = in_words(text)
    return text if len(text) > 1 and text[1].isupper() else text[:1].lower() + text[1:]


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
        return _clip("; ".join(_call(source, c) for c in content if isinstance(c, dict)))
    if kind == "ToolCallExecutionEvent" and isinstance(content, list):
        results = [c for c in content if isinstance(c, dict) and c.get("name") not in ("delegate", "finish")]
        if not results:
            return None  # the Manager's own decisions: their request line said it all
        failed = [str(c.get("name")) for c in results if c.get("is_error")]
        if failed:
            return f"The {source}'s {', '.join(failed)} failed: {_clip(str(results[0].get('content', '')), 100)}"
        return f"The {source} got what {', '.join(str(c.get('name')) for c in results)} returned"
    if kind == "TextMessage" and isinstance(content, str) and source != "user":
        text = in_words(content)
        asked = named_next_agent(content, WORKERS)
        if asked and text:
            return _clip(f"The {source} asks the {asked}: {text}")
        return _clip(f"The {source}: {text}") if text else None
    return None
