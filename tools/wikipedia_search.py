"""wikipedia_search: best matching article summaries through the MediaWiki Action API (httpx).

Why not the `wikipedia` package (1.4.0, installed): it keeps its endpoint in a module global (`API_URL`, shared
by every session and thread), calls `requests.get` with no timeout (a stalled connection blocks a worker thread
for ever), speaks plain http, and needs one request per article plus one for the search. The Action API gives
the search and then every summary, URL and disambiguation flag in a second request, within our own timeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tools.config import ToolSettings
from tools.failure import ToolFailure
from tools.http_api import api_client, describe_error
from tools.trim import one_line, squash_whitespace, truncate

log = logging.getLogger(__name__)

SUMMARY_CHARS = 800
DISAMBIGUATION_CHARS = 700
_TAGS = re.compile(r"<[^>]+>")
_HEADING = re.compile(r"^=+\s*(.*?)\s*=+$", re.M)


@dataclass(frozen=True)
class Article:
    title: str
    url: str
    summary: str
    disambiguation: bool


class WikipediaError(Exception):
    """The API call failed; the message is safe to show."""


async def wikipedia_search(query: str, *, settings: ToolSettings, max_results: int | None = None) -> str:
    """Search Wikipedia: summaries of the best matching articles with their URLs. An ambiguous term lists its
    meanings: ask again with the exact title.

    query: a topic, name or term, e.g. "Alan Turing" or "photosynthesis".
    """
    query = one_line(query or "")
    if not query:
        return ToolFailure("wikipedia_search needs a query: a topic, name or term.")
    limit = max_results or settings.wikipedia_max_results
    try:
        async with asyncio.timeout(settings.wikipedia_timeout_s):
            async with api_client(settings, settings.wikipedia_timeout_s) as client:
                api = _Api(client, settings.wikipedia_api_url)
                titles, suggestion = await api.search(query, limit)
                searched = query
                if not titles and suggestion and suggestion.lower() != query.lower():
                    searched = suggestion
                    titles, _ = await api.search(suggestion, limit)
                if not titles:
                    return (
                        f'Wikipedia has no article matching "{query}". Try other words, a broader term, or web_search.'
                    )
                articles = await api.articles(titles)
                options = await api.disambiguation_options(next((a for a in articles if a.disambiguation), None))
    except TimeoutError:
        return ToolFailure(
            f"Wikipedia did not answer within {settings.wikipedia_timeout_s:g} s. Try again later or web_search."
        )
    except WikipediaError as exc:
        return ToolFailure(f"Wikipedia search failed: {exc}. Try again later or use web_search.")
    except httpx.HTTPError as exc:
        return ToolFailure(f"Wikipedia search failed: {describe_error(exc)}. Try again later or use web_search.")
    except Exception:
        log.exception("wikipedia_search failed")
        return ToolFailure("Wikipedia search failed because of an internal error. Use web_search instead.")
    return _format(query, searched, articles, options, settings.tool_output_max_chars)


class _Api:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._url = url

    async def _get(self, **params: str) -> dict[str, Any]:
        params = {"action": "query", "format": "json", "formatversion": "2", "utf8": "1", **params}
        response = await self._client.get(self._url, params=params)
        if response.status_code != 200:
            raise WikipediaError(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise WikipediaError("the answer was not JSON") from exc
        if not isinstance(data, dict):
            raise WikipediaError("unexpected answer")
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            raise WikipediaError(one_line(str(error.get("info") or error.get("code") or "API error"))[:200])
        return data

    async def search(self, query: str, limit: int) -> tuple[list[str], str | None]:
        """Titles of the best matches, in rank order, and the API's spelling suggestion."""
        data = await self._get(
            list="search", srsearch=query, srlimit=str(limit), srprop="", srinfo="suggestion", srwhat="text"
        )
        block = data.get("query") or {}
        titles = [str(hit["title"]) for hit in block.get("search") or [] if isinstance(hit, dict) and "title" in hit]
        suggestion = (block.get("searchinfo") or {}).get("suggestion")
        return titles, (str(suggestion) if suggestion else None)

    async def articles(self, titles: list[str]) -> list[Article]:
        """Intro summaries, canonical URLs and disambiguation flags, in the order of `titles`."""
        data = await self._get(
            prop="extracts|info|pageprops",
            titles="|".join(titles),
            exintro="1",
            explaintext="1",
            exlimit="max",
            inprop="url",
            ppprop="disambiguation",
            redirects="1",
        )
        block = data.get("query") or {}
        renamed = {}
        for item in (block.get("normalized") or []) + (block.get("redirects") or []):
            renamed[item.get("from")] = item.get("to")
        by_title = {page.get("title"): page for page in block.get("pages") or [] if not page.get("missing")}
        articles = []
        seen = set()
        for title in titles:
            name = title
            while name in renamed and name not in by_title:
                name = renamed[name]
            page = by_title.get(name)
            if page is None or name in seen:
                continue
            seen.add(name)
            articles.append(
                Article(
                    title=str(page.get("title")),
                    url=str(page.get("canonicalurl") or page.get("fullurl") or ""),
                    summary=squash_whitespace(str(page.get("extract") or "")),
                    disambiguation="disambiguation" in (page.get("pageprops") or {}),
                )
            )
        return articles

    async def disambiguation_options(self, article: Article | None) -> str | None:
        """The list of meanings on a disambiguation page (whole-page extracts come one page per request)."""
        if article is None:
            return None
        data = await self._get(
            prop="extracts", titles=article.title, explaintext="1", exchars=str(DISAMBIGUATION_CHARS * 2)
        )
        pages = (data.get("query") or {}).get("pages") or []
        text = squash_whitespace(str(pages[0].get("extract") or "")) if pages else ""
        text = _HEADING.sub(r"\1:", text).replace("\n\n", "\n")
        return text or None


def _format(query: str, searched: str, articles: list[Article], options: str | None, max_chars: int) -> str:
    if not articles:
        return f'Wikipedia found pages for "{query}" but could not load their summaries. Try web_search.'
    heading = f'Wikipedia articles for "{query}"'
    if searched != query:
        heading = f'No Wikipedia results for "{query}"; showing results for "{searched}"'
    lines = [heading + ":"]
    for number, article in enumerate(articles, 1):
        if article.disambiguation:
            lines.append(f"{number}. {article.title} (disambiguation: the term has several meanings) — {article.url}")
            if options is not None:
                lines.append("   " + truncate(options, DISAMBIGUATION_CHARS).replace("\n", "\n   "))
                options = None  # only the first disambiguation page is expanded
            lines.append("   Ask again with the exact title of the meaning you want.")
        else:
            lines.append(f"{number}. {article.title} — {article.url}")
            summary = _TAGS.sub("", article.summary) or "(no summary)"
            lines.append("   " + truncate(summary, SUMMARY_CHARS).replace("\n", "\n   "))
    return truncate("\n".join(lines), max_chars)
