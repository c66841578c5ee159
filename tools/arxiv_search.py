"""arxiv_search: papers from the arXiv API through the `arxiv` package, run off the event loop.

The package's `Client` is used as it is (query building, paging, Atom parsing), with three settings of ours:
`query_url_format` points it at `arxiv_api_url`; its requests session gets our connect/read timeouts (arxiv
4.0.2 sends requests without one, so a stalled connection would hold a worker thread for ever); and calls are
spaced by `arxiv_min_interval_s` process-wide, as arXiv asks of API clients.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any

import requests

from tools.config import ToolSettings
from tools.failure import ToolFailure
from tools.trim import one_line, truncate

log = logging.getLogger(__name__)

ABSTRACT_CHARS = 500
MAX_AUTHORS = 6
_FIELD_PREFIX = re.compile(r"\b(ti|au|abs|co|jr|cat|rn|id|all):", re.I)
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)$", re.I)
_TERM = re.compile(r'"[^"]+"|[^\s"]+')

_gate = threading.Lock()
_last_call = 0.0


class _TimeoutSession(requests.Session):
    """A requests session that applies a default (connect, read) timeout to every request."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.trust_env = True
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        verb = method.decode() if isinstance(method, bytes) else method
        return super().request(verb, url, *args, **kwargs)


async def arxiv_search(query: str, max_results: int = 5, *, settings: ToolSettings) -> str:
    """Search arXiv papers: title, authors, date, short abstract, arXiv id and PDF URL of each.

    query: keywords (all must match), or an arXiv id such as 1706.03762, or arXiv's field syntax, e.g.
    'ti:transformer AND au:vaswani' (ti: title, au: author, abs: abstract, cat: category such as cs.CL).
    max_results: how many papers to return (1-20, default 5).
    """
    query = one_line(query or "")
    if not query:
        return ToolFailure("arxiv_search needs a query: keywords, an arXiv id, or field syntax such as 'au:hinton'.")
    count = max(1, min(int(max_results or settings.arxiv_default_results), 20))
    try:
        results = await asyncio.wait_for(asyncio.to_thread(_search, query, count, settings), settings.arxiv_timeout_s)
    except TimeoutError:
        return ToolFailure(
            f"arXiv did not answer within {settings.arxiv_timeout_s:g} s. Try again later or use web_search."
        )
    except requests.Timeout:
        return ToolFailure("arXiv did not answer in time. Try again later or use web_search.")
    except requests.ConnectionError:
        return ToolFailure("Could not connect to arXiv. Try again later or use web_search.")
    except Exception as exc:
        import arxiv

        if isinstance(exc, arxiv.HTTPError):
            return ToolFailure(f"arXiv search failed: HTTP {exc.status}. Try again later or use web_search.")
        if isinstance(exc, arxiv.ArxivError):
            return ToolFailure(f"arXiv search failed: {type(exc).__name__}. Try again later or use web_search.")
        log.exception("arxiv_search failed")
        return ToolFailure("arXiv search failed because of an internal error. Use web_search instead.")
    if not results:
        return (
            f'arXiv has no papers matching "{query}". Try fewer or broader keywords, or field syntax '
            "such as ti:... or au:...."
        )
    return _format(query, results, settings.tool_output_max_chars)


def build_search(query: str, count: int) -> Any:
    """An arxiv.Search: an id lookup, the caller's own field syntax, or every keyword required."""
    import arxiv

    if match := _ARXIV_ID.match(query):
        return arxiv.Search(id_list=[match.group(1)], max_results=count)
    if not _FIELD_PREFIX.search(query):
        terms = [term for term in _TERM.findall(query) if term.upper() not in ("AND", "OR", "ANDNOT")]
        query = " AND ".join(f"all:{term}" for term in terms)
    return arxiv.Search(query=query, max_results=count, sort_by=arxiv.SortCriterion.Relevance)


def _search(query: str, count: int, settings: ToolSettings) -> list[Any]:
    import arxiv

    global _last_call
    client = arxiv.Client(page_size=count, delay_seconds=0.0, num_retries=settings.arxiv_retries)
    client.query_url_format = settings.arxiv_api_url.rstrip("?") + "?{}"
    read_timeout = settings.arxiv_timeout_s
    client._session = _TimeoutSession((min(5.0, read_timeout), read_timeout))
    client._session.headers["User-Agent"] = settings.http_user_agent
    with _gate:
        wait = _last_call + settings.arxiv_min_interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return list(client.results(build_search(query, count)))
        finally:
            _last_call = time.monotonic()


def _format(query: str, results: list[Any], max_chars: int) -> str:
    lines = [f'arXiv papers for "{query}":']
    for number, paper in enumerate(results, 1):
        names = [author.name for author in paper.authors]
        authors = ", ".join(names[:MAX_AUTHORS]) + (
            f" et al. ({len(names)} authors)" if len(names) > MAX_AUTHORS else ""
        )
        date = paper.published.date().isoformat() if paper.published else "unknown date"
        updated = paper.updated.date().isoformat() if paper.updated else None
        arxiv_id = paper.get_short_id()
        lines.append(f"{number}. {one_line(paper.title)}")
        lines.append(f"   Authors: {authors or 'unknown'}")
        lines.append(
            f"   Published: {date}"
            + (f" (updated {updated})" if updated and updated != date else "")
            + (f"; category {paper.primary_category}" if paper.primary_category else "")
        )
        lines.append(f"   arXiv id: {arxiv_id}; PDF: {paper.pdf_url or f'https://arxiv.org/pdf/{arxiv_id}'}")
        lines.append(f"   Abstract: {truncate(one_line(paper.summary), ABSTRACT_CHARS)}")
    return truncate("\n".join(lines), max_chars)
