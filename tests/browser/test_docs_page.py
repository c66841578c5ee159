"""`/docs` renders the API in Chromium, offline, from packaged files: checked by the operations it shows (Swagger
UI 4 could not read OpenAPI 3.1 and showed "Unable to render this definition")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.scripted import paris_script

pytestmark = pytest.mark.browser


async def test_docs_shows_the_operations(tmp_path: Path, browser: Any, artifacts: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        tab = await browser()
        page = tab.page
        await page.goto(server.http_url + "/docs")
        await page.wait_for_selector(".opblock", timeout=15_000)
        operations = await page.locator(".opblock-summary-path").all_inner_texts()
        assert {"/health", "/runs", "/runs/{run_id}"} <= {o.strip() for o in operations}, operations
        assert await page.locator("text=Unable to render this definition").count() == 0
        await page.screenshot(path=str(artifacts / "docs-1280x800.png"))
        tab.assert_no_console_errors()
