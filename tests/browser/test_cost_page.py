"""The page shows what each run cost and what the session has cost so far (price table from settings)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any, Literal

import pytest

from app.core.default_models import DEFAULT_TEAM_MODEL
from app.core.prices import ModelPrice
from tests.support.browser import MIC_ARGS, open_page, open_voice_page, page_app, voice_page_app
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import realtime_usd, spoken_with_answer

pytestmark = pytest.mark.browser
DEAR = {DEFAULT_TEAM_MODEL: ModelPrice(input=1000.0, output=1000.0)}


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


VOICE_BADGE = re.compile(r"Voice (\d+):(\d\d) in · (\d+):(\d\d) out · \$(\d+\.\d+)")


@pytest.mark.parametrize("transport", ["relay", "webrtc"])
async def test_the_voice_session_shows_its_minutes_and_cost_next_to_the_runs(
    tmp_path: Path, browser: Any, fake_openai: Any, artifacts: Path, transport: Literal["webrtc", "relay"]
) -> None:
    rt = fake_openai.realtime
    app = voice_page_app(tmp_path, fake_openai, ScriptBook(lambda: paris_script(researcher_delay=0.2)), transport)
    async with live_app(app) as server:
        tab = await open_voice_page(browser, server.http_url, MIC_ARGS)  # Chromium's fake microphone
        page = tab.page
        await page.fill("#task-input", "Weather in Paris?")  # typed while the voice session is live
        await page.keyboard.press("Enter")
        await page.locator(".run .run-cost").first.wait_for(timeout=20_000)
        await rt.until(spoken_with_answer, timeout=20, what="the answer spoken")
        # The page shows the cost of every response.done usage the fake reported (it may still be finishing one).
        deadline = time.monotonic() + 10
        while True:
            usd = realtime_usd(fake_openai)
            shown = f"${usd:.4f}" if usd < 0.01 else f"${usd:.2f}"
            badge = await page.evaluate("() => document.getElementById('voice-cost')?.textContent ?? ''")
            if badge.endswith(shown):
                break
            assert time.monotonic() < deadline, f"{badge!r} never showed {shown}"
            await asyncio.sleep(0.1)
        match = VOICE_BADGE.fullmatch(badge)
        assert match, badge
        minutes_out = int(match[3]) * 60 + int(match[4])
        assert minutes_out >= 1, "the narrator spoke for seconds"
        if transport == "relay":  # the microphone streams all along; over WebRTC only speech counts
            assert int(match[1]) * 60 + int(match[2]) >= 1
        title = await page.get_attribute("#voice-cost", "title")
        assert title is not None and f"realtime, {transport}" in title
        order = await page.evaluate(
            "() => [...document.querySelector('.work-title-row').children].map(e => e.id || e.className)"
        )
        assert order.index("session-cost") < order.index("voice-cost"), order
        await page.screenshot(path=str(artifacts / f"page-voice-cost-{transport}-1440x900.png"))
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(artifacts / f"page-voice-cost-{transport}-390x844.png"))
        tab.assert_no_console_errors()
