"""The text conventions the Manager may write instead of calling its tools, and that its tool calls are shown
in (agents/manager/tools.py `summarize_call`): one grammar for routing, termination, the final answer and the page.

- `NEXT AGENT: Researcher` (also `NEXT AGENT: **Researcher**`, any case) names the next speaker.
- `TERMINATE` at the end of the Manager's message ends the run.
- A message that opens a line by addressing a worker ("Researcher, please ...", "@Developer: ...") delegates
  in prose.

`NEXT_AGENT_PATTERN` is a plain regex source that means the same in Python and JavaScript (no inline flags,
no look-behind, no named groups); compile it case-insensitively in both (`re.IGNORECASE`, JS flag `i`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

NEXT_AGENT_PATTERN = r"NEXT\s+AGENT\s*:\s*[*_`\"']*\s*([A-Za-z][\w-]*)"
NEXT_AGENT_FLAGS = "i"  # for the page: new RegExp(NEXT_AGENT_PATTERN, "i" + "g" when scanning)

NEXT_AGENT = re.compile(NEXT_AGENT_PATTERN, re.IGNORECASE)
# A whole "NEXT AGENT: X" line (with any list or emphasis marks before it), removed from answers.
NEXT_AGENT_LINE = re.compile(r"^[ \t>*_-]*" + NEXT_AGENT_PATTERN + r".*$", re.IGNORECASE | re.MULTILINE)
TERMINATE_AT_END = re.compile(r"\bTERMINATE\W*\s*$")
TERMINATE_ANYWHERE = re.compile(r"\s*\bTERMINATE\b[.!]?\s*")
# A "FINAL ANSWER:" label at the start of a line (models add it): the answer is what follows.
FINAL_ANSWER_LABEL = re.compile(r"^[ \t>*_]*final\s+answer[*_]*\s*:[*_]*[ \t]*", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"^[ \t>*_-]*@?([A-Za-z][\w-]*)[*_]*\s*[,:]", re.MULTILINE)
URL = re.compile(r"https?://[^\s<>()\[\]\"'`]+[^\s<>()\[\]\"'`.,;:!?]")


def named_next_agent(text: str, participants: Sequence[str]) -> str | None:
    """The participant named on the last "NEXT AGENT:" line of text, if it is a real participant."""
    by_lower = {name.lower(): name for name in participants}
    for match in reversed(NEXT_AGENT.findall(text)):
        if match.lower() in by_lower:
            return by_lower[match.lower()]
    return None


def addressed_worker(text: str, workers: Sequence[str]) -> str | None:
    """The one worker a message addresses at the start of a line ("Researcher, please ..."), else None.
    Two different workers addressed is ambiguous: None."""
    by_lower = {name.lower(): name for name in workers}
    named = {by_lower[m.lower()] for m in _ADDRESS.findall(text) if m.lower() in by_lower}
    return named.pop() if len(named) == 1 else None


def ends_with_terminate(text: str) -> bool:
    return bool(TERMINATE_AT_END.search(text))


def strip_control_words(text: str) -> str:
    """Remove TERMINATE, NEXT AGENT lines and a FINAL ANSWER label: what is left is meant for the person."""
    text = FINAL_ANSWER_LABEL.sub("", NEXT_AGENT_LINE.sub("", text))
    return TERMINATE_ANYWHERE.sub(" ", text).strip()


def urls_in(text: str) -> list[str]:
    """The URLs a prose answer cites, in order, without repeats."""
    return list(dict.fromkeys(URL.findall(text)))
