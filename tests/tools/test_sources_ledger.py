"""Which sources the team read (agents/manager/sources.py), from the real tools' output against the fixture server:
search results, Wikipedia articles (by URL or bare title), arXiv papers (by id, with or without version), a page
fetched through a redirect (both URLs), and nothing else."""

from __future__ import annotations

from agents.manager.sources import SourceLedger, key_of
from tests.support.fixture_server import FixtureServer
from tools.arxiv_search import arxiv_search
from tools.config import ToolSettings
from tools.fetch import fetch_web_content
from tools.web_search import web_search
from tools.wikipedia_search import wikipedia_search


def test_a_source_is_the_same_however_it_is_written() -> None:
    same = ["https://www.Example.com/a/b/", "http://example.com/a/b#part", "example.com/a/b?utm_source=x"]
    assert {key_of(s) for s in same} == {"example.com/a/b"}
    assert key_of("https://en.m.wikipedia.org/wiki/Alan_Turing") == key_of("https://en.wikipedia.org/wiki/Alan Turing")
    assert key_of("arXiv:1706.03762") == key_of("https://arxiv.org/pdf/1706.03762v7") == "arxiv:1706.03762"
    assert key_of("example.com/a?page=2") != key_of("example.com/a?page=3")


async def test_what_the_tools_returned_is_verified_with_the_passage_read(
    settings: ToolSettings, fixture_server: FixtureServer
) -> None:
    ledger = SourceLedger()
    ledger.read("wikipedia_search", await wikipedia_search("Alan Turing", settings=settings))
    ledger.read("arxiv_search", await arxiv_search("1706.03762", settings=settings))
    searched = await web_search("honeybees hive temperature", settings=settings)
    ledger.read("web_search", searched)
    asked = fixture_server.url("/redirect?to=/pages/article.html")
    ledger.read("fetch_web_content", await fetch_web_content(asked, settings=settings), asked=asked)
    ledger.read("fetch_web_content", "Could not fetch https://nowhere.example/: network error.", asked="x")

    landed = fixture_server.url("/pages/article.html")
    first_hit = next(line.split("URL: ")[1] for line in searched.splitlines() if "URL: " in line)
    answer = "Honeybees keep the brood nest at about 35 °C by fanning."
    cited = [
        "https://en.wikipedia.org/wiki/Alan_Turing",
        "Turing test",  # a bare Wikipedia title
        "arXiv:1706.03762",
        "https://arxiv.org/abs/1706.03762v7",
        first_hit,
        asked,  # the URL the fetch asked for ...
        landed,  # ... and the one it landed on after the redirect
        "https://nowhere.example/",  # named only by a failed fetch: not read
        "https://invented.example/bees",
    ]
    listed = ledger.entries(cited, answer)
    entries = dict(zip(cited, listed, strict=True))
    assert [e.verified for e in listed] == [True] * 7 + [False, False]
    turing = entries["https://en.wikipedia.org/wiki/Alan_Turing"]
    assert turing.title == "Alan Turing" and turing.quote and "English mathematician" in turing.quote
    assert entries["Turing test"].url == "https://en.wikipedia.org/wiki/Turing_test"  # the URL the tool gave
    paper = entries["arXiv:1706.03762"]
    assert paper.title == "Attention Is All You Need" and paper.url == "https://arxiv.org/abs/1706.03762"
    page = entries[landed]
    assert page.title and "honeybees" in page.title.lower()
    assert page.quote and "35" in page.quote and len(page.quote) <= 240  # the sentence closest to the answer
    assert entries[asked].quote == page.quote
    assert entries["https://invented.example/bees"].quote is None
    assert ledger.unverified(cited) == ["https://nowhere.example/", "https://invented.example/bees"]
