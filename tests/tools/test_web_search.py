"""web_search against the fixture server: Google CSE (httpx) and DuckDuckGo through the real ddgs client, whose
DuckDuckGo engine is pointed at the fixture's /html/ endpoint serving recorded result pages."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.support.fixture_server import FixtureServer, make_settings
from tools.config import ToolSettings
from tools.web_search import web_search


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_duckduckgo_results_through_real_ddgs(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    before = len(fixture_server.requests_to("/html/"))
    result = await web_search("python asyncio event loop", 3, settings=settings)
    assert result.startswith('Web results for "python asyncio event loop" from DuckDuckGo:')
    assert "URL: https://docs.python.org/3/library/asyncio-eventloop.html" in result
    assert "The event loop is the core of every asyncio application." in result  # snippet, tags stripped
    assert "y.js" not in result and "Online Course" not in result  # the ad result is dropped by ddgs
    assert [line[:2] for line in result.splitlines() if line[:1].isdigit()] == ["1.", "2.", "3."]
    sent = fixture_server.requests_to("/html/")[before:]
    assert len(sent) == 1 and sent[0].method == "POST"
    assert sent[0].query["q"] == ["python asyncio event loop"]


async def test_google_results_and_key_not_leaked(google_settings: ToolSettings, fixture_server: FixtureServer) -> None:
    before = len(fixture_server.requests_to("/customsearch/v1"))
    result = await web_search("python asyncio event loop", 2, settings=google_settings)
    assert result.startswith('Web results for "python asyncio event loop" from Google:')
    assert "1. Event Loop — Python 3.13.1 documentation" in result
    assert "URL: https://realpython.com/async-io-python/" in result
    assert [line[:2] for line in result.splitlines() if line[:1].isdigit()] == ["1.", "2."]  # max_results
    assert "stackoverflow" not in result
    request = fixture_server.requests_to("/customsearch/v1")[before]
    assert request.query["key"] == ["test-google-key-123"] and request.query["cx"] == ["cx-test"]
    assert request.query["num"] == ["2"]
    assert "test-google-key-123" not in result


async def test_google_error_falls_back_to_duckduckgo(google_settings: ToolSettings) -> None:
    result = await web_search("google-error asyncio event loop", 3, settings=google_settings)
    assert "from DuckDuckGo" in result
    assert "Google failed (HTTP 500: Internal error encountered.)" in result
    assert "URL: https://docs.python.org/3/library/asyncio-eventloop.html" in result
    assert "test-google-key-123" not in result


async def test_google_empty_falls_back_to_duckduckgo(google_settings: ToolSettings) -> None:
    result = await web_search("google-empty asyncio event loop", 3, settings=google_settings)
    assert "from DuckDuckGo" in result and "Google found nothing" in result
    assert "superfastpython.com" in result


async def test_duckduckgo_error_falls_back_to_google(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(
        fixture_server,
        tmp_path,
        google_api_key="k",
        google_cse_id="cx",
        web_search_primary="duckduckgo",
        ddg_url=f"http://127.0.0.1:{closed_port()}/html/",
    )
    result = await web_search("python asyncio event loop", 3, settings=settings)
    assert "from Google" in result and "DuckDuckGo failed (" in result
    assert "URL: https://docs.python.org/3/library/asyncio-eventloop.html" in result


async def test_duckduckgo_empty_falls_back_to_google(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(
        fixture_server, tmp_path, google_api_key="k", google_cse_id="cx", web_search_primary="duckduckgo"
    )
    result = await web_search("ddg-empty asyncio event loop", 3, settings=settings)
    assert "from Google" in result and "DuckDuckGo found nothing" in result
    assert "stackoverflow.com" in result


async def test_no_results_anywhere_is_a_clear_message(google_settings: ToolSettings) -> None:
    result = await web_search("nothing-anywhere qzxqv", 5, settings=google_settings)
    assert result.startswith('No web results for "nothing-anywhere qzxqv" (Google, DuckDuckGo searched')
    assert "Try fewer or different words" in result


async def test_both_engines_failing_is_a_clear_message(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(
        fixture_server,
        tmp_path,
        google_api_key="k",
        google_cse_id="cx",
        ddg_url=f"http://127.0.0.1:{closed_port()}/html/",
    )
    result = await web_search("google-quota asyncio", 5, settings=settings)
    assert result.startswith("Web search is not available right now:")
    assert "Google failed (HTTP 403: Quota exceeded" in result and "DuckDuckGo failed" in result


async def test_duckduckgo_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, web_search_timeout_s=0.5)
    started = time.monotonic()
    result = await web_search("ddg-slow asyncio", 3, settings=settings)
    assert time.monotonic() - started < 2.0
    assert result == (
        "Web search is not available right now: DuckDuckGo failed (timed out after 0.5 s). "
        "Try again later or use another tool."
    )


async def test_google_timeout_falls_back(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, google_api_key="k", google_cse_id="cx", web_search_timeout_s=0.6)
    started = time.monotonic()
    result = await web_search("google-slow asyncio event loop", 3, settings=settings)
    assert time.monotonic() - started < 2.5
    assert "Google failed (timed out after 0.6 s), so DuckDuckGo answered" in result


async def test_crashing_engine_becomes_a_message(settings: ToolSettings) -> None:
    def broken_backend(query: str, count: int, settings: ToolSettings) -> list[dict[str, str]]:
        raise RuntimeError("parser exploded")

    result = await web_search("anything", 3, settings=settings, ddg_backend=broken_backend)
    assert result == (
        "Web search is not available right now: DuckDuckGo failed (internal error). "
        "Try again later or use another tool."
    )


async def test_injected_backend_rows_are_formatted_and_capped(settings: ToolSettings) -> None:
    rows = [{"title": f"Result {i}", "href": f"https://example.org/{i}", "body": "word " * 200} for i in range(12)]
    result = await web_search("many", 50, settings=settings, ddg_backend=lambda q, n, s: rows[:n])
    assert "10. Result 9" in result and "11." not in result  # clamped to 10
    assert all(len(line) <= 310 for line in result.splitlines())  # snippets trimmed
    assert len(result) <= settings.tool_output_max_chars


@pytest.mark.parametrize("query", ["", "   ", "\n"])
async def test_empty_query(settings: ToolSettings, query: str) -> None:
    assert await web_search(query, settings=settings) == "web_search needs a query: the words to search for."
