"""Browser tests: the voice page in Debian's headless Chromium through Playwright (async API, in the same event
loop as the app under uvicorn). Skipped with a reason when /usr/bin/chromium is missing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import ConsoleMessage, ViewportSize

from tests.support.browser import BrowserPage
from tests.support.paths import ARTIFACTS

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
BASE_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = chromium_missing_reason()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await browser(extra_args=[...], viewport=..., permissions=[...])` -> BrowserPage in a fresh profile."""
    from playwright.async_api import async_playwright

    contexts: list[Any] = []
    async with async_playwright() as playwright:

        async def launch(
            extra_args: Sequence[str] = (), viewport: ViewportSize | None = None, permissions: list[str] | None = None
        ) -> BrowserPage:
            profile = tmp_path / f"profile-{len(contexts)}"
            context = await playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*BASE_ARGS, *extra_args],
                viewport=viewport or {"width": 1440, "height": 900},
                permissions=permissions or [],
                color_scheme="light",
                reduced_motion="reduce",
            )
            contexts.append(context)
            page = context.pages[0] if context.pages else await context.new_page()
            result = BrowserPage(page, context)

            def on_console(message: ConsoleMessage) -> None:
                result.console.append(f"{message.type}: {message.text}")
                if message.type == "error":
                    result.console_errors.append(message.text)

            page.on("console", on_console)
            page.on("pageerror", lambda e: result.console_errors.append(f"page error: {e}"))
            return result

        try:
            yield launch
        finally:
            for context in contexts:
                await context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
