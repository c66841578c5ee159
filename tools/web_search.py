"""web_search: Google Programmable Search (Custom Search JSON API) or DuckDuckGo (the `ddgs` package), each the
other's fallback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tools.config import ToolSettings
from tools.failure import ToolFailure
from tools.http_api import api_client, describe_error
from tools.trim import one_line, truncate

log = logging.getLogger(__name__)

GOOGLE, DUCKDUCKGO = "Google", "DuckDuckGo"
SNIPPET_CHARS = 300
MAX_RESULTS = 10

# A DuckDuckGo backend: blocking, (query, max_results, settings) -> ddgs-style rows {title, href, body}.
DdgBackend = Callable[[str, int, ToolSettings], list[dict[str, Any]]]


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    snippet: str


class SearchEngineError(Exception):
    """One engine failed; the message is safe to show (no keys, no URLs with keys)."""


async def web_search(
    query: str, max_results: int = 5, *, settings: ToolSettings, ddg_backend: DdgBackend | None = None
) -> str:
    """Search the web: numbered results, each with title, snippet and URL. Read a page with fetch_web_content.

    query: what to search for, as you would type it into a search engine.
    max_results: how many results to return (1-10, default 5).
    """
    query = one_line(query or "")
    if not query:
        return ToolFailure("web_search needs a query: the words to search for.")
    count = max(1, min(int(max_results or settings.web_search_default_results), MAX_RESULTS))
    engines = _engine_order(settings)
    failures: list[str] = []
    empty: list[str] = []
    for name in engines:
        try:
            if name == GOOGLE:
                hits = await google_search(query, count, settings)
            else:
                hits = await duckduckgo_search(query, count, settings, backend=ddg_backend)
        except SearchEngineError as exc:
            failures.append(f"{name} failed ({exc})")
            continue
        except Exception:
            log.exception("web search engine crashed", extra={"engine": name})
            failures.append(f"{name} failed (internal error)")
            continue
        if hits:
            return format_hits(
                query,
                hits[:count],
                name,
                failures + [f"{e} found nothing" for e in empty],
                settings.tool_output_max_chars,
            )
        empty.append(name)
    tried = ", ".join(engines)
    if empty:
        detail = "; ".join(failures)
        return (
            f'No web results for "{query}" ({tried} searched{"; " + detail if detail else ""}). '
            "Try fewer or different words."
        )
    return ToolFailure(
        f"Web search is not available right now: {'; '.join(failures)}. Try again later or use another tool."
    )


def _engine_order(settings: ToolSettings) -> list[str]:
    google_ok = settings.google_configured
    primary = settings.web_search_primary
    if primary == "auto":
        primary = "google" if google_ok else "duckduckgo"
    if primary == "google":
        return [GOOGLE, DUCKDUCKGO] if google_ok else [DUCKDUCKGO]
    return [DUCKDUCKGO, GOOGLE] if google_ok else [DUCKDUCKGO]


def format_hits(query: str, hits: list[SearchHit], engine: str, problems: list[str], max_chars: int) -> str:
    note = f" ({'; '.join(problems)}, so {engine} answered)" if problems else ""
    lines = [f'Web results for "{query}" from {engine}{note}:']
    for number, hit in enumerate(hits, 1):
        lines.append(f"{number}. {hit.title or '(no title)'}")
        if hit.snippet:
            lines.append(f"   {truncate(hit.snippet, SNIPPET_CHARS, marker=False)}")
        lines.append(f"   URL: {hit.url}")
    return truncate("\n".join(lines), max_chars)


async def google_search(query: str, count: int, settings: ToolSettings) -> list[SearchHit]:
    """Google Custom Search JSON API; raises SearchEngineError."""
    if not settings.google_configured:
        raise SearchEngineError("GOOGLE_API_KEY and GOOGLE_CSE_ID are not set")
    assert settings.google_api_key is not None
    params = {
        "key": settings.google_api_key.get_secret_value(),
        "cx": settings.google_cse_id,
        "q": query,
        "num": str(min(count, 10)),
        "safe": "active",
    }
    try:
        async with asyncio.timeout(settings.web_search_timeout_s):
            async with api_client(settings, settings.web_search_timeout_s) as client:
                response = await client.get(settings.google_cse_url, params=params)
                data = _json(response)
    except TimeoutError as exc:
        raise SearchEngineError(f"timed out after {settings.web_search_timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise SearchEngineError(describe_error(exc)) from exc
    if response.status_code != 200:
        raise SearchEngineError(_google_error(response.status_code, data))
    hits = []
    for item in data.get("items") or []:
        url = item.get("link")
        if isinstance(url, str) and url:
            hits.append(SearchHit(one_line(str(item.get("title", ""))), url, one_line(str(item.get("snippet", "")))))
    return hits


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _google_error(status: int, data: dict[str, Any]) -> str:
    raw = data.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    message = one_line(str(error.get("message", "")))[:200]
    return f"HTTP {status}{': ' + message if message else ''}"


async def duckduckgo_search(
    query: str, count: int, settings: ToolSettings, backend: DdgBackend | None = None
) -> list[SearchHit]:
    """DuckDuckGo through ddgs, off the event loop, within the tool's timeout; raises SearchEngineError."""
    from ddgs.exceptions import DDGSException, TimeoutException

    run = backend or ddgs_text
    try:
        rows = await asyncio.wait_for(asyncio.to_thread(run, query, count, settings), settings.web_search_timeout_s)
    except (TimeoutError, TimeoutException) as exc:
        raise SearchEngineError(f"timed out after {settings.web_search_timeout_s:g} s") from exc
    except DDGSException as exc:
        if "no results" in str(exc).lower():
            return []
        raise SearchEngineError(one_line(str(exc))[:200] or type(exc).__name__) from exc
    hits = []
    for row in rows or []:
        url = row.get("href") or row.get("url")
        if isinstance(url, str) and url:
            hits.append(SearchHit(one_line(str(row.get("title", ""))), url, one_line(str(row.get("body", "")))))
    return hits


def ddgs_text(query: str, count: int, settings: ToolSettings) -> list[dict[str, Any]]:
    """The real ddgs client. `ddg_url` re-points its DuckDuckGo engine (tests use a local fixture server)."""
    from ddgs import DDGS
    from ddgs.engines.duckduckgo import Duckduckgo

    timeout = max(int(settings.web_search_timeout_s), 1)
    client = DDGS(proxy=settings.ddg_proxy, timeout=timeout)
    if settings.ddg_url != Duckduckgo.search_url:
        engine = Duckduckgo(proxy=settings.ddg_proxy, timeout=timeout)
        engine.search_url = settings.ddg_url
        # DDGS builds one engine per class and caches it here (ddgs 9.x); seeding the cache re-points it.
        client._engines_cache[Duckduckgo] = engine
    return client.text(
        query,
        region=settings.ddg_region,
        safesearch=settings.ddg_safesearch,
        max_results=count,
        backend=settings.ddg_backend,
    )
