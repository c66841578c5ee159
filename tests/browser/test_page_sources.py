"""The answer card with checked sources: a source the team read shows its title and the passage read; one no
tool of the run returned (the Manager kept it after the one request to fix it) is marked unverified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import page_app
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, Script, tool_call

pytestmark = pytest.mark.browser

INVENTED = "https://invented.example/paris-weather"


def insisting_script() -> Script:
    finish = tool_call("finish", answer=PARIS_ANSWER, sources=[PARIS_SOURCE, INVENTED])
    return Script(
        manager=[tool_call("delegate", agent="Researcher", instructions="Find the weather in Paris."), finish, finish],
        researcher=[tool_call("web_search", query="weather in Paris"), f"Paris: 18°C ({PARIS_SOURCE})."],
    )


async def test_answer_shows_read_and_unverified_sources(tmp_path: Path, browser: Any, artifacts: Path) -> None:
    book = ScriptBook(insisting_script)
    async with live_app(page_app(tmp_path, book)) as server:
        tab = await browser(viewport={"width": 1100, "height": 800})
        page = tab.page
        await page.goto(server.http_url + "/")
        await page.wait_for_selector("body[data-team-state=open]", timeout=10_000)
        await page.fill("#task-input", "What's the weather in Paris right now?")
        await page.click("#task-send")
        answer = page.locator(".run .answer")
        await answer.wait_for(timeout=15_000)
        items = answer.locator(".sources li")
        assert await items.count() == 2
        read, unread = items.nth(0), items.nth(1)
        assert await read.get_attribute("data-verified") == "true"
        assert await read.locator("a").get_attribute("href") == PARIS_SOURCE
        assert await read.locator(".source-title").inner_text() == "Paris weather now"
        assert await read.locator(".source-quote").inner_text() == "18°C, partly cloudy"
        assert await read.locator(".badge").inner_text() == "read"
        assert await unread.get_attribute("data-verified") == "false"
        assert await unread.locator("a").get_attribute("href") == INVENTED
        assert (await unread.locator(".badge").inner_text()).lower() == "unverified"
        assert await unread.locator(".source-quote").count() == 0
        assert "1 source marked unverified" in await answer.locator(".sources-warning").inner_text()
        assert sum(len(raw["manager"].create_calls) for raw in book.raw.values()) == 3  # asked once to fix it
        await answer.scroll_into_view_if_needed()
        await answer.screenshot(path=str(artifacts / "answer-sources.png"))
        await page.screenshot(path=str(artifacts / "page-sources-1100x800.png"))
        tab.assert_no_console_errors()
