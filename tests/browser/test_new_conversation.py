"""The page's "New conversation": the team forgets the conversation (the protocol's `reset`) and the page
starts empty, while past runs stay in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import open_page, page_app
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script

pytestmark = pytest.mark.browser


async def test_new_conversation_starts_over(tmp_path: Path, browser: Any, artifacts: Path) -> None:
    async with live_app(page_app(tmp_path, ScriptBook(lambda: paris_script(runs=2)))) as server:
        tab = await open_page(browser, server.http_url)
        page = tab.page
        await page.fill("#task-input", "What's the weather in Paris right now?")
        await page.click("#task-send")
        await page.locator(".run .run-cost").first.wait_for(timeout=15_000)
        await page.wait_for_selector("body[data-run-state=idle]")
        assert await page.locator(".run").count() == 1
        session = next(iter(server.services.registry._table._entries.values())).session
        assert session._memory.snapshot is not None or session._memory.team is not None  # the team has a memory now
        await page.click("#new-conversation")
        await page.locator(".run").first.wait_for(state="detached", timeout=10_000)  # no eval: the page's CSP
        assert await page.locator(".run").count() == 0
        assert await page.locator("#timeline-empty").is_visible()
        assert session._memory.snapshot is None and session._memory.team is None  # the server forgot it (reset)
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert len((await http.get("/runs")).json()["runs"]) == 1  # the past run stays in the store
        await page.screenshot(path=str(artifacts / "page-new-conversation-1440x900.png"))
        tab.assert_no_console_errors()
