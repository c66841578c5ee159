"""Keep tool outputs small: every string a tool returns to a model goes through here, so a long page or a
chatty script never costs thousands of tokens."""

from __future__ import annotations

import re

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_SENTENCE_END = re.compile(r"[.!?…][\"')\]]?\s")


def squash_whitespace(text: str) -> str:
    """Collapse runs of spaces, drop trailing spaces, keep at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def one_line(text: str) -> str:
    """All whitespace, newlines included, as single spaces (for titles and snippets)."""
    return " ".join(text.split())


def truncate(text: str, limit: int, *, marker: bool = True) -> str:
    """At most `limit` characters, cut at a sentence or word boundary when one is near the end, with a note of
    how much was left out (the note fits inside the limit)."""
    if len(text) <= limit:
        return text
    # Budget for the longest possible note; the real one (fewer omitted characters) is never longer.
    note = f" … [{len(text):,} more characters not shown]" if marker else "…"
    budget = max(limit - len(note), 1)
    head = text[:budget]
    cut = _boundary(head)
    kept = head[:cut].rstrip()
    if marker:
        note = f" … [{len(text) - len(kept):,} more characters not shown]"
    return kept + note


def head_tail(text: str, limit: int) -> str:
    """At most `limit` characters keeping the start and the end (where a traceback or a result usually is)."""
    if len(text) <= limit:
        return text
    note = f"\n… [{len(text):,} characters omitted] …\n"
    room = max(limit - len(note), 2)
    head_len = room * 2 // 3
    tail_len = room - head_len
    omitted = len(text) - head_len - tail_len
    note = f"\n… [{omitted:,} characters omitted] …\n"
    return text[:head_len] + note + text[len(text) - tail_len :]


def _boundary(head: str) -> int:
    """Index to cut `head` at: the last sentence end in its final fifth, else the last space, else its end."""
    window_start = len(head) * 4 // 5
    last_sentence = None
    for match in _SENTENCE_END.finditer(head, window_start):
        last_sentence = match.end()
    if last_sentence:
        return last_sentence
    space = head.rfind(" ", window_start)
    newline = head.rfind("\n", window_start)
    best = max(space, newline)
    return best if best > 0 else len(head)
