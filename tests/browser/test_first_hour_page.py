"""The page without a model: a typed question stays in the box, with the reason next to it (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import open_page, page_app
from tests.support.live_server import live_app

pytestmark = pytest.mark.browser

QUESTION = "Which is the tallest building in Lyon?"


async def test_a_typed_question_without_a_key_stays_with_the_reason(
    tmp_path: Path, browser: Any, artifacts: Path
) -> None:
    async with live_app(page_app(tmp_path, None, openai_api_key=None)) as server:
        tab = await open_page(browser, server.http_url)
        page = tab.page
        await page.locator(".notice[data-id=no-model]").wait_for(timeout=5_000)
        card = await page.locator(".voice-card").bounding_box()
        for chip in await page.locator("[data-example]").all():  # every example question visible at 1440x900
            box = await chip.bounding_box()
            assert box is not None and card is not None and box["y"] + box["height"] <= card["y"] + card["height"]
        await page.locator(".notice[data-id=no-model] button").click()  # dismissed: asking brings it back
        await page.fill("#task-input", QUESTION)
        await page.keyboard.press("Enter")
        notice = page.locator(".notice[data-id=no-model]")
        await notice.wait_for(timeout=5_000)
        assert await page.input_value("#task-input") == QUESTION
        hint = await page.inner_text("#task-hint")
        assert "Not sent" in hint and "no model" in hint
        text = await notice.inner_text()
        assert "OPENAI_API_KEY" in text and "as well as a key" in text  # OPENAI_BASE_URL alone is not enough
        await page.click("#task-send")
        assert await page.input_value("#task-input") == QUESTION
        assert await page.locator("#event-log .log-row[data-name=task]").count() == 0  # nothing was sent
        await page.screenshot(path=str(artifacts / "page-no-key-question-kept-1440x900.png"))
        tab.assert_no_console_errors()
