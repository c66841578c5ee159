"""wikipedia_search (MediaWiki Action API over httpx) and arxiv_search (the arxiv package's real Client) against
recorded API responses on the fixture server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.fixture_server import FixtureServer, make_settings
from tools.arxiv_search import arxiv_search, build_search
from tools.config import ToolSettings
from tools.wikipedia_search import wikipedia_search

# --- Wikipedia -------------------------------------------------------------------------------------


async def test_wikipedia_summaries_with_urls(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    before = len(fixture_server.requests_to("/w/api.php"))
    result = await wikipedia_search("Alan Turing", settings=settings)
    assert result.startswith(
        'Wikipedia articles for "Alan Turing":\n1. Alan Turing — '
        "https://en.wikipedia.org/wiki/Alan_Turing\n   Alan Mathison Turing (23 June 1912"
    )
    assert "2. Turing Award — https://en.wikipedia.org/wiki/Turing_Award" in result
    assert "3. Turing test — https://en.wikipedia.org/wiki/Turing_test" in result
    assert "more characters not shown]" in result  # the long summary is trimmed
    assert len(result) <= settings.tool_output_max_chars
    requests = fixture_server.requests_to("/w/api.php")[before:]
    assert len(requests) == 2  # one search, one batch of summaries
    assert requests[0].query["list"] == ["search"] and requests[0].query["srlimit"] == ["3"]
    assert requests[1].query["titles"] == ["Alan Turing|Turing Award|Turing test"]
    assert requests[0].headers["User-Agent"] == settings.http_user_agent


async def test_wikipedia_disambiguation_lists_meanings(settings: ToolSettings) -> None:
    result = await wikipedia_search("Mercury", settings=settings)
    assert (
        "1. Mercury (disambiguation: the term has several meanings) — https://en.wikipedia.org/wiki/Mercury" in result
    )
    assert "Mercury (planet), the planet nearest the Sun" in result
    assert "Companies:" in result and "==" not in result
    assert "Ask again with the exact title of the meaning you want." in result
    assert "2. Mercury (planet) — https://en.wikipedia.org/wiki/Mercury_(planet)" in result


async def test_wikipedia_spelling_suggestion_is_followed(settings: ToolSettings) -> None:
    result = await wikipedia_search("Alan Turnig", settings=settings)
    assert result.startswith('No Wikipedia results for "Alan Turnig"; showing results for "alan turing":')
    assert "https://en.wikipedia.org/wiki/Alan_Turing" in result


async def test_wikipedia_no_result(settings: ToolSettings) -> None:
    result = await wikipedia_search("qzxqv flurbish", settings=settings)
    assert result == (
        'Wikipedia has no article matching "qzxqv flurbish". Try other words, a broader term, or web_search.'
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("wiki-error", "Wikipedia search failed: A database query error has occurred.. Try again later"),
        ("wiki-garbage", "Wikipedia search failed: HTTP 502. Try again later or use web_search."),
        ("", "wikipedia_search needs a query: a topic, name or term."),
    ],
)
async def test_wikipedia_errors(settings: ToolSettings, query: str, expected: str) -> None:
    assert (await wikipedia_search(query, settings=settings)).startswith(expected)


async def test_wikipedia_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, wikipedia_timeout_s=0.5)
    started = time.monotonic()
    result = await wikipedia_search("wiki-slow", settings=settings)
    assert time.monotonic() - started < 1.5
    assert result.startswith("Wikipedia ") and ("did not answer within 0.5 s" in result or "timed out" in result)


async def test_wikipedia_unreachable(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, wikipedia_api_url="http://127.0.0.1:9/w/api.php")
    result = await wikipedia_search("Alan Turing", settings=settings)
    assert result == "Wikipedia search failed: could not connect. Try again later or use web_search."


# --- arXiv -----------------------------------------------------------------------------------------


async def test_arxiv_papers(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    before = len(fixture_server.requests_to("/api/query"))
    result = await arxiv_search("transformer architecture", 5, settings=settings)
    assert result.startswith('arXiv papers for "transformer architecture":\n1. Attention Is All You Need\n')
    assert (
        "   Authors: Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan N. Gomez "
        "et al. (8 authors)"
    ) in result
    assert "   Published: 2017-06-12 (updated 2023-08-02); category cs.CL" in result
    assert "   arXiv id: 1706.03762v7; PDF: http://arxiv.org/pdf/1706.03762v7" in result
    assert "   Abstract: The dominant sequence transduction models" in result
    assert "more characters not shown]" in result.split("\n")[5]  # the abstract is trimmed
    assert "2. BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding" in result
    assert "Authors: Jacob Devlin, Ming-Wei Chang, Kenton Lee, Kristina Toutanova\n" in result
    assert "Neural Machine Translation" not in result  # no "transformer" in it: every keyword must match
    request = fixture_server.requests_to("/api/query")[before]
    assert request.query["search_query"] == ["all:transformer AND all:architecture"]


async def test_arxiv_id_lookup(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    result = await arxiv_search("arXiv:1409.0473", settings=settings)
    assert "1. Neural Machine Translation by Jointly Learning to Align and Translate" in result
    assert "Authors: Dzmitry Bahdanau, Kyunghyun Cho, Yoshua Bengio\n" in result
    assert fixture_server.requests_to("/api/query")[-1].query["id_list"] == ["1409.0473"]


def test_arxiv_field_syntax_is_passed_through() -> None:
    assert build_search("ti:transformer AND au:vaswani", 3).query == "ti:transformer AND au:vaswani"
    assert build_search('"large language" model', 3).query == 'all:"large language" AND all:model'


async def test_arxiv_max_results(settings: ToolSettings) -> None:
    result = await arxiv_search("neural", 1, settings=settings)
    assert "1. " in result and "\n2. " not in result


async def test_arxiv_no_result(settings: ToolSettings) -> None:
    result = await arxiv_search("nothing-anywhere qzxqv", settings=settings)
    assert result.startswith('arXiv has no papers matching "nothing-anywhere qzxqv". Try fewer or broader')


async def test_arxiv_http_error(settings: ToolSettings) -> None:
    assert await arxiv_search("arxiv-error", settings=settings) == (
        "arXiv search failed: HTTP 503. Try again later or use web_search."
    )


async def test_arxiv_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, arxiv_timeout_s=0.5, arxiv_retries=0)
    started = time.monotonic()
    result = await arxiv_search("arxiv-slow", settings=settings)
    assert time.monotonic() - started < 1.5
    assert result.startswith("arXiv did not answer")


async def test_arxiv_unreachable(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, arxiv_api_url="http://127.0.0.1:9/api/query", arxiv_retries=0)
    assert await arxiv_search("attention", settings=settings) == (
        "Could not connect to arXiv. Try again later or use web_search."
    )


async def test_arxiv_empty_query(settings: ToolSettings) -> None:
    assert (await arxiv_search("  ", settings=settings)).startswith("arxiv_search needs a query")
