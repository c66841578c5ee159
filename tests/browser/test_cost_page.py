"""The page shows what each run cost and what the session has cost so far (price table from settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.prices import ModelPrice
from tests.browser.pages import page_app
from tests.browser.test_page import open_page
from tests.live_server import ScriptBook, live_app
from tests.scripted import paris_script

pytestmark = pytest.mark.browser
DEAR = {
    "gpt-4.1-mini": ModelPrice(input=1000.0, output=1000.0),
    "gpt-4.1-nano": ModelPrice(input=1000.0, output=1000.0),
}


async def ask(page: Any, runs: int) -> None:
    await page.fill("#task-input", "What's the weather in Paris right now?")
    await page.click("#task-send")
    await page.locator(".run .run-cost").nth(runs - 1).wait_for(timeout=15_000)
    await page.wait_for_selector("body[data-run-state=idle]")


async def test_each_run_and_the_session_show_their_cost(tmp_path: Path, browser: Any, artifacts: Path) -> None:
    app = page_app(tmp_path, ScriptBook(lambda: paris_script(runs=2)), model_prices=DEAR)
    async with live_app(app) as server:
        tab = await open_page(browser, server.http_url)
        page = tab.page
        await ask(page, 1)
        first = await page.locator(".run .run-cost").first.inner_text()
        assert re.fullmatch(r"\$\d+\.\d{2}", first), first  # dear enough to be over a cent
        await ask(page, 2)
        costs = [float(t[1:]) for t in await page.locator(".run .run-cost").all_inner_texts()]
        session = await page.inner_text("#session-cost")
        assert session.startswith("Session $")
        assert float(session.removeprefix("Session $")) == pytest.approx(sum(costs), abs=0.011)
        await page.screenshot(path=str(artifacts / "page-run-cost-1440x900.png"))
        tab.assert_no_console_errors()
