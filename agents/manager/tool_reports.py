"""A worker's tool results as its report: when they reach the Manager as they are, and when the worker restates.

Workers run with `reflect_on_tool_use=False` and one tool round per turn, so each round ends with a
ToolCallSummaryMessage that holds the results, trimmed (`summarize_result`: at most RESULT_CHARS characters
each, every URL kept). Routing (agents/manager/routing.py, rule 3) then asks `restate_reason`: None, and the results go
to the Manager at once, without a model call that would only restate them (a model call is the largest part of
what a listener waits for); a reason, and the same worker speaks again with its tool loop in view, to retry,
take the next step (search, then read the page) or pick the fact out.

Where restating pays (the worker goes on):
- a failed call, an empty result, a page that could not be read: the worker retries or tries another way;
- a fetched page longer than LONG_CHARS: the fact is somewhere in up to 4,000 characters of page; the worker
  finds it and the Manager's context, which every later Manager call carries, stays short;
- code that failed, printed nothing, or printed more than LONG_CHARS: the Developer fixes it or reads it;
- web search hits that do not match the instruction (under half its words in titles and snippets): leads, not
  an answer, and the Researcher reads one.
Search hits that match, Wikipedia and arXiv results, and short successful code output answer as they are.
"""

from __future__ import annotations

import re

from autogen_agentchat.messages import ToolCallSummaryMessage
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResult

FETCH = "fetch_web_content"
SEARCH = "web_search"
CODE_OK = "Exit code 0 (success)."
NO_OUTPUT = "(no output"
RESULT_CHARS = 1500  # what of one result reaches the Manager as it is (every URL beyond it is listed)
LONG_CHARS = 1500  # a page or code output longer than this is restated by its worker
MATCH_SHARE = 0.5  # share of the instruction's words a search must show to answer it as it is

_URL = re.compile(r"https?://[^\s<>\"'\[\]{}]+")
_WORD = re.compile(r"[^\W\d_]{4,}")
_COMMON = frozenset(
    "find what when where which whom whose that this these those with from into about above below also have "
    "been were will would could should please give tell report look search check current currently latest "
    "reliable source sources using more most some them they their there here only just each every other".split()
)


def summarize_result(call: FunctionCall, result: FunctionExecutionResult) -> str:
    """One result as the Manager reads it: its text, cut at RESULT_CHARS with the URLs after the cut listed."""
    text = result.content.strip()
    if len(text) <= RESULT_CHARS:
        return text
    head = text[:RESULT_CHARS].rstrip()
    rest = [u for u in dict.fromkeys(_URL.findall(text[RESULT_CHARS:])) if u not in head]
    more = f" (trimmed; more URLs: {' '.join(rest)})" if rest else " (trimmed)"
    return f"{head}…{more}"


def restate_reason(message: ToolCallSummaryMessage, instruction: str) -> str | None:
    """Why the worker should speak again about its tool round (see the module's list), or None when the
    results answer `instruction` as they are."""
    for call, result in zip(message.tool_calls, message.results, strict=False):
        reason = _reason(call.name, result, instruction)
        if reason is not None:
            return reason
    return None if message.results else "empty"


def _reason(tool: str, result: FunctionExecutionResult, instruction: str) -> str | None:
    text = result.content.strip()
    if result.is_error or not text:
        return "failed"
    if tool == FETCH:
        if not text.startswith("Title:"):
            return "failed"
        return "long page" if len(text) > LONG_CHARS else None
    if text.startswith(("Exit code", "Stopped:", "Killed by", "Not run:", "The code could not")):
        if not text.startswith(CODE_OK) or NO_OUTPUT in text:
            return "failed"
        return "long output" if len(text) > LONG_CHARS else None
    if tool == SEARCH and matches(instruction, _hits(text)) < MATCH_SHARE:
        return "leads"
    return None


def _hits(text: str) -> str:
    """Search output without its header line, which repeats the query (so it would always match)."""
    first, _, rest = text.partition("\n")
    return rest if first.startswith("Web results for") else text


def matches(instruction: str, text: str) -> float:
    """The share of the instruction's own words (four letters or more, common ones aside) found in `text`, by
    their first five letters (weather/weathers, birth/births); 1.0 for an instruction without such words."""
    wanted = {w.lower()[:5] for w in _WORD.findall(instruction)} - {w[:5] for w in _COMMON}
    if not wanted:
        return 1.0
    found = {w.lower()[:5] for w in _WORD.findall(text)}
    return len(wanted & found) / len(wanted)
