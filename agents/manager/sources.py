"""Which of an answer's sources the team actually read: the ledger of what the run's tools returned.

Every tool result of a run is read once (`SourceLedger.observe`): the URLs it names (search results, Wikipedia
articles, arXiv papers, MCP tools alike), the page a fetch_web_content call read (the URL it asked for and the
one it landed on after redirects, with the page text), Wikipedia titles and arXiv ids. A source of finish() is
verified when it matches one of them (`key_of`: scheme, www., a trailing slash, the fragment, tracking
parameters and an arXiv version do not matter; a Wikipedia title or an arXiv id may be given bare), and it
then carries the passage the team read: for a fetched page the sentence closest to the answer, otherwise the
result's own snippet, summary or abstract. Nothing the agents wrote themselves counts, only tool output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, ToolCallExecutionEvent, ToolCallRequestEvent

from agents.events import SourceEntry

FETCH = "fetch_web_content"
QUOTE_CHARS = 240
_URL = re.compile(r"https?://[^\s<>\"'\[\]{}]+")
_ITEM = re.compile(r"^\s*\d+\.\s+")
_ARXIV_ID = re.compile(r"(?:arxiv[:\s]*|arxiv\.org/(?:abs|pdf)/)(\d{4}\.\d{4,5})(?:v\d+)?", re.IGNORECASE)
_ARXIV_LINE = re.compile(r"arXiv id:\s*(\d{4}\.\d{4,5})", re.IGNORECASE)
_WIKI = re.compile(r"^([a-z\-]+)\.(?:m\.)?wikipedia\.org/wiki/(.+)$")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|ref$|source$)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"[A-Za-z0-9]{4,}|\d+")


def key_of(source: str) -> str:
    """What identifies a source whatever way it is written: 'arxiv:ID', 'wiki:lang:title', or host+path+query."""
    text = source.strip().rstrip(".,;")
    arxiv = _ARXIV_ID.search(text)
    if arxiv:
        return f"arxiv:{arxiv.group(1)}"
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        if "/" not in text and "." not in text:  # a bare title
            return "title:" + " ".join(text.lower().split())
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = unquote(parts.path).rstrip("/")
    wiki = _WIKI.match(host + path)
    if wiki:
        return f"wiki:{wiki.group(1)}:{wiki.group(2).replace('_', ' ').lower()}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)))
    return host + path + (f"?{query}" if query else "")


@dataclass
class Seen:
    """Something a tool returned: where, under what title, and the text the team read of it."""

    url: str
    title: str | None
    text: str
    fetched: bool = False


class SourceLedger:
    """What this run's tools returned, by key (see `key_of`). A fetched page replaces a search result's snippet."""

    def __init__(self) -> None:
        self._seen: dict[str, Seen] = {}
        self._calls: dict[str, tuple[str, str]] = {}  # call id -> (tool name, the URL a fetch asked for)

    def clear(self) -> None:
        self._seen.clear()
        self._calls.clear()

    def __len__(self) -> int:
        return len(self._seen)

    def observe(self, messages: Iterable[BaseAgentEvent | BaseChatMessage]) -> None:
        for message in messages:
            if isinstance(message, ToolCallRequestEvent):
                for call in message.content:
                    self._calls[call.id] = (call.name, _asked_url(call.arguments))
            elif isinstance(message, ToolCallExecutionEvent):
                for result in message.content:
                    if result.is_error:
                        continue
                    name, asked = self._calls.get(result.call_id, (result.name, ""))
                    self.read(name, result.content, asked=asked)

    def read(self, tool: str, output: str, *, asked: str = "") -> None:
        """One tool result."""
        if tool == FETCH:  # a page, or a sentence saying why not (which names the URL but read nothing)
            if output.startswith("Title:"):
                self._read_page(output, asked)
            return
        for block in _blocks(output):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            title = _title(lines[0]) if lines else None
            text = _passage(lines[1:])
            arxiv = _ARXIV_LINE.search(block)
            urls = list(dict.fromkeys(_clean_url(u) for u in _URL.findall(block)))
            if arxiv:
                urls.append(f"https://arxiv.org/abs/{arxiv.group(1)}")
            for url in urls:
                self._add(url, Seen(url, title, text or (title or "")))

    def _read_page(self, output: str, asked: str) -> None:
        head, _, body = output.partition("\n\n")
        fields = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        landed = fields.get("URL", "").strip() or asked
        seen = Seen(landed or asked, fields.get("Title", "").strip() or None, body.strip(), fetched=True)
        for url in {landed, asked} - {""}:
            self._seen[key_of(url)] = seen
        if seen.title:
            self._seen.setdefault("title:" + " ".join(seen.title.lower().split()), seen)

    def _add(self, url: str, seen: Seen) -> None:
        key = key_of(url)
        if key not in self._seen or not self._seen[key].fetched:
            self._seen[key] = seen
        if seen.title:
            self._seen.setdefault("title:" + " ".join(seen.title.lower().split()), seen)

    def find(self, source: str) -> Seen | None:
        key = key_of(source)
        if key.startswith("wiki:"):
            title = key.split(":", 2)[2]
            return self._seen.get(key) or self._seen.get(f"title:{title}")
        return self._seen.get(key)

    def unverified(self, sources: Sequence[str]) -> list[str]:
        return [s for s in sources if self.find(s) is None]

    def entries(self, sources: Sequence[str], answer: str = "") -> list[SourceEntry]:
        """One entry per source, in order: verified ones with the passage the team read."""
        entries = []
        for source in sources:
            seen = self.find(source)
            if seen is None:
                entries.append(SourceEntry(url=source, verified=False))
                continue
            url = source if _URL.match(source) else seen.url
            entries.append(SourceEntry(url=url, title=seen.title, verified=True, quote=quote_for(seen, answer)))
        return entries


def quote_for(seen: Seen, answer: str) -> str | None:
    """A short passage of what the team read: the sentence of a fetched page that shares most words with the
    answer (its first sentence when none does), else the result's own text; at most QUOTE_CHARS characters."""
    text = " ".join(seen.text.split())
    if not text:
        return None
    if seen.fetched:
        wanted = {w.lower() for w in _WORD.findall(answer)}
        sentences = [s for s in _SENTENCE.split(text) if len(s) > 20] or [text]
        scores = [len(wanted & {w.lower() for w in _WORD.findall(s)}) for s in sentences]
        text = sentences[scores.index(max(scores))]
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def ledger_of(messages: Iterable[BaseAgentEvent | BaseChatMessage]) -> SourceLedger:
    ledger = SourceLedger()
    ledger.observe(messages)
    return ledger


def _clean_url(url: str) -> str:
    """A URL found in prose, without the punctuation after it and a closing parenthesis it does not open."""
    url = url.rstrip(".,;:")
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(".,;:")
    return url


def _asked_url(arguments: str) -> str:
    match = re.search(r'"url"\s*:\s*"([^"]+)"', arguments)
    return match.group(1) if match else ""


def _blocks(output: str) -> list[str]:
    """A result list split into its numbered items (one block when it is not a list)."""
    blocks: list[str] = []
    for line in output.splitlines():
        if _ITEM.match(line) or not blocks:
            blocks.append(line)
        else:
            blocks[-1] += "\n" + line
    return blocks


def _passage(lines: list[str]) -> str:
    """An item's text: its abstract or snippet when labelled so, else its lines but the URL and id ones."""
    for line in lines:
        label, _, rest = line.partition(":")
        if label in ("Abstract", "Snippet", "Summary") and rest.strip():
            return rest.strip()
    return " ".join(line for line in lines if not re.match(r"^(URL|Authors|Published|arXiv id):", line))


def _title(first_line: str) -> str | None:
    """An item's title: its first line without the number, a 'Title:' label, or a trailing '— URL'."""
    line = _ITEM.sub("", first_line)
    line = re.sub(r"^Title:\s*", "", line)
    line = _URL.sub("", line).rstrip(" —-:(").strip()
    line = re.sub(r"\s*\(disambiguation:.*$", "", line)
    return line or None
