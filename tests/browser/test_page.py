"""The voice page without voice: loading, typed tasks, the timeline and answer, the event log, history,
keyboard use, clear messages (no API key, no microphone permission, server unreachable) and reconnecting.

Real app under uvicorn with scripted team models, Debian's headless Chromium through Playwright."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import BrowserPage, api_key_of, expand_log, log_names, open_page, page_app
from tests.support.live_server import ScriptBook, live_app, serve
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, paris_script

pytestmark = pytest.mark.browser

TASK = "What's the weather in Paris right now?"


async def boxes(page: Any, selectors: list[str]) -> list[dict[str, float]]:
    return [await page.locator(s).bounding_box() for s in selectors]


async def test_helpers_mask_secrets_and_render_text_safely(tmp_path: Path, browser: Any) -> None:
    api_key = "sk-" + "proj-" + "Abc123def456ghi789jkl"  # built at runtime: no key-shaped literal in git
    ephemeral = "ek_" + "68dc754ca2288191873d46a9b994a3e5"
    async with live_app(page_app(tmp_path, ScriptBook(paris_script))) as server:
        tab = await open_page(browser, server.http_url)
        result = await tab.page.evaluate(
            """async ([apiKey, ek]) => {
          const mask = await import('/static/js/mask.js');
          const fmt = await import('/static/js/format.js');
          mask.registerSecret('my-app-token-1234');
          const text = mask.maskText(`key ${apiKey}, secret ${ek}, Authorization: Bearer abc.def-123, ` +
                                     `/ws/team?session=s1&token=my-app-token-1234`);
          const deep = mask.maskDeep({client_secret: {value: ek, expires_at: 1759279012},
                                      headers: {Authorization: 'Bearer xyz987654'}, nested: [{note: apiKey}],
                                      usage: {prompt_tokens: 5}});
          const rich = fmt.renderRichText('<img src=x onerror="window.__pwned=1">\\n\\n' +
            '**Key facts**\\n- first https://example.org/a_(b)).\\n- second [docs](javascript:alert(1))\\n\\n' +
            '1. one\\n2. two\\n\\nSee [the source](https://weather.example/paris) TERMINATE');
          document.body.append(rich);
          await new Promise(r => setTimeout(r, 50));
          return {
            text, deep, pwned: window.__pwned === 1, img: rich.querySelector('img') !== null,
            hrefs: [...rich.querySelectorAll('a')].map(a => a.getAttribute('href')),
            rels: [...rich.querySelectorAll('a')].map(a => a.rel),
            lists: [...rich.querySelectorAll('ul, ol')].map(l => l.tagName + l.children.length),
            strong: rich.querySelector('strong')?.textContent, shown: rich.textContent,
            links: fmt.extractLinks('a https://x.org/p, b (https://y.org/q) and https://x.org/p again'),
            stripped: fmt.stripTerminate('Answer here.\\nTERMINATE'),
            labels: [fmt.stripTerminate('FINAL ANSWER: It is 18 C.'), fmt.stripTerminate('**Task:** Find it.')],
          };
        }""",
            [api_key, ephemeral],
        )
        rich_text = result["shown"]
        log = await tab.page.evaluate(
            """async (apiKey) => {
          const { EventLog } = await import('/static/js/event_log.js');
          const list = document.createElement('ol');
          document.body.append(list);
          const log = new EventLog(list, { max: 50 });
          for (let i = 0; i < 80; i++) log.add('received', `event.${i}`, { i }, 'realtime');
          const capped = list.children.length;
          log.clear();
          // Two interleaved delta streams fold into one row each; another item starts its own row.
          const rx = (name, data) => log.add('received', name, data, 'realtime');
          for (let i = 0; i < 5; i++) {
            rx('response.output_audio.delta', { item_id: 'a', delta: `<${i}>` });
            rx('response.output_audio_transcript.delta', { item_id: 'a', delta: `w${i} ` });
          }
          rx('response.output_audio_transcript.delta', { item_id: 'b', delta: 'x' });
          log.add('sent', 'session.update', { session: { headers: { Authorization: `Bearer ${apiKey}` } } }, 'realtime');
          const rows = [...list.children]
            .map(r => `${r.dataset.dir} ${r.dataset.name} ${r.querySelector('.log-count').textContent}`);
          const last = list.lastElementChild.querySelector('details');
          last.open = true;
          await new Promise(r => setTimeout(r, 20));
          const first = list.children[1].querySelector('details');
          first.open = true;
          await new Promise(r => setTimeout(r, 20));
          return { capped, rows, secret: last.textContent, joined: first.querySelector('.log-joined').textContent };
        }""",
            api_key,
        )
        tab.assert_no_console_errors()
    assert log["capped"] == 50
    assert log["rows"] == [
        "received response.output_audio.delta ×5",
        "received response.output_audio_transcript.delta ×5",
        "received response.output_audio_transcript.delta ",
        "sent session.update ",
    ]
    assert "5 deltas joined: “w0 w1 w2 w3 w4 ”" in log["joined"]
    assert api_key not in log["secret"] and '"Authorization": "••••••"' in log["secret"]
    assert api_key not in result["text"] and ephemeral not in result["text"] and "abc.def-123" not in result["text"]
    assert "my-app-token-1234" not in result["text"] and "session=s1" in result["text"]
    deep = str(result["deep"])
    assert ephemeral not in deep and "xyz987654" not in deep and api_key not in deep
    assert result["deep"]["client_secret"]["expires_at"] == 1759279012 and result["deep"]["usage"]["prompt_tokens"] == 5
    assert not result["pwned"] and not result["img"] and '<img src=x onerror="window.__pwned=1">' in rich_text
    assert result["hrefs"] == ["https://example.org/a_(b)", "https://weather.example/paris"]
    assert all("noopener" in rel for rel in result["rels"])
    assert result["lists"] == ["UL2", "OL2"] and result["strong"] == "Key facts"
    assert "[docs](javascript:alert(1))" in rich_text
    assert result["links"] == ["https://x.org/p", "https://y.org/q"] and result["stripped"] == "Answer here."
    assert result["labels"] == ["It is 18 C.", "Find it."]  # the team's labels are not for people


async def test_typed_task_shows_timeline_answer_log_and_history_at_both_sizes(
    tmp_path: Path, browser: Any, artifacts: Path
) -> None:
    app = page_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=0.4)))
    async with live_app(app) as server:
        tab = await open_page(browser, server.http_url)
        page = tab.page
        assert await page.title() == "Research Team"
        await page.fill("#task-input", TASK)
        await page.click("#task-send")
        # While it runs: the state, the active agent, the pause and cancel buttons.
        await page.wait_for_selector("body[data-run-state=running]", timeout=5_000)
        await page.wait_for_selector(".agent[data-active=true]", timeout=5_000)
        assert await page.is_enabled("#pause") and await page.is_enabled("#cancel")
        assert not await page.is_enabled("#resume")
        await page.screenshot(path=str(artifacts / "page-running-1440x900.png"))
        answer = page.locator(".run .answer")
        await answer.wait_for(timeout=15_000)
        await page.wait_for_selector("body[data-run-state=idle]")
        text = await answer.inner_text()
        assert PARIS_ANSWER in text and "TERMINATE" not in text
        assert await answer.locator(".answer-body a").get_attribute("href") == PARIS_SOURCE
        assert await answer.locator(".sources a").get_attribute("href") == PARIS_SOURCE
        assert await page.inner_text(".run .status-badge") == "Completed"
        assert await page.is_disabled("#pause") and await page.is_disabled("#cancel")
        timeline = await page.inner_text("#timeline")
        for expected in ("Manager", "Researcher", "→ Researcher", "web_search", "current weather in Paris", TASK):
            assert expected in timeline, expected
        assert await page.locator(".step[data-agent=Researcher] .tool-result").count() == 1
        # The event log: sent and received rows; a sent task; the run's events; JSON on demand.
        log = page.locator("#event-log")
        assert await log.locator(".log-row[data-dir=sent]").count() >= 2
        assert await log.locator(".log-row[data-dir=received]").count() >= 10
        task_row = log.locator(".log-row[data-dir=sent][data-name=task]")
        assert await task_row.locator(".dir").inner_text() == "▲"
        await task_row.locator("summary").click()
        assert TASK in await task_row.locator("pre").inner_text()
        assert await log.locator(".log-row[data-name=run_finished] .dir").inner_text() == "▼"
        await page.select_option("#log-filter", "http")
        http_rows = await log.locator(".log-row[data-kind=http]").count()
        assert await log.locator(".log-row:visible").count() == http_rows > 0
        await page.select_option("#log-filter", "all")
        content = await expand_log(page)
        assert api_key_of(app) not in content
        await page.screenshot(path=str(artifacts / "page-typed-1440x900.png"))
        # The layout holds at 1440x900: three columns side by side inside the window.
        voice, work, side = await boxes(page, [".voice-card", ".work-card", ".side-card"])
        assert voice["x"] + voice["width"] <= work["x"] and work["x"] + work["width"] <= side["x"]
        assert side["x"] + side["width"] <= 1440 and max(b["y"] + b["height"] for b in (voice, work, side)) <= 900
        # History: the run is listed and opens to its events and answer.
        await page.click("#tab-history")
        item = page.locator("#history-list .history-item").first
        await item.wait_for()
        assert TASK in await item.inner_text()
        await item.click()
        dialog = page.locator("#run-dialog")
        await dialog.locator(".answer").wait_for()
        assert PARIS_ANSWER in await dialog.locator(".answer").inner_text()
        assert "web_search" in await dialog.inner_text()
        await page.screenshot(path=str(artifacts / "page-history-dialog-1440x900.png"))
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="hidden")
        assert await page.evaluate("document.activeElement.classList.contains('history-item')")
        await page.click("#tab-log")
        # The layout holds at phone size: one column, nothing wider than the screen.
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.wait_for_timeout(100)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        voice, work, side = await boxes(page, [".voice-card", ".work-card", ".side-card"])
        assert voice["y"] + voice["height"] <= work["y"] and work["y"] + work["height"] <= side["y"]
        assert all(b["x"] >= 0 and b["x"] + b["width"] <= 390 for b in (voice, work, side))
        talk = await page.locator("#talk").bounding_box()
        assert talk["width"] >= 96 and talk["y"] < 844  # the big talk button is on the first screen
        await page.screenshot(path=str(artifacts / "page-typed-390x844.png"), full_page=True)
        await page.screenshot(path=str(artifacts / "page-typed-390x844-first-screen.png"))
        await page.emulate_media(color_scheme="dark")
        await page.screenshot(path=str(artifacts / "page-typed-390x844-dark.png"))
        await page.set_viewport_size({"width": 1440, "height": 900})
        await page.screenshot(path=str(artifacts / "page-typed-1440x900-dark.png"))
        tab.assert_no_console_errors()


async def test_keyboard_only_and_accessible_names_and_microphone_denied(tmp_path: Path, browser: Any) -> None:
    async with live_app(page_app(tmp_path, ScriptBook(paris_script))) as server:
        # A microphone exists but the permission is refused.
        tab = await open_page(browser, server.http_url, extra_args=["--use-fake-device-for-media-stream"])
        page = tab.page
        unnamed = await page.evaluate("""() => [...document.querySelectorAll('button, select, input, textarea')]
          .filter(el => !el.hidden && el.offsetParent !== null)
          .filter(el => !(el.getAttribute('aria-label') || el.labels?.[0]?.textContent.trim()
                          || el.textContent.trim() || el.getAttribute('aria-labelledby')))
          .map(el => el.id || el.outerHTML.slice(0, 80))""")
        assert unnamed == []
        captions = page.locator("#captions")
        assert await captions.get_attribute("aria-live") == "polite" and await captions.get_attribute("role") == "log"
        assert await page.get_attribute("#run-announcer", "aria-live") == "polite"

        async def tab_to(selector: str, limit: int = 40) -> None:
            for _ in range(limit):
                await page.keyboard.press("Tab")
                if await page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
                    return
            raise AssertionError(f"{selector} is not reachable with Tab")

        await tab_to("#talk")
        await page.keyboard.press("Enter")
        notice = page.locator(".notice[data-id=mic]")
        await notice.wait_for(timeout=5_000)
        assert "Microphone access is blocked" in await notice.inner_text()
        assert await notice.get_attribute("role") == "alert"
        assert await page.get_attribute("body", "data-voice-state") == "off"
        await tab_to("#task-input")
        await page.keyboard.type(TASK)
        await page.keyboard.press("Enter")
        await page.locator(".run .answer").wait_for(timeout=15_000)
        # Tabs work with the arrow keys.
        await tab_to("#tab-log")
        await page.keyboard.press("ArrowRight")
        assert await page.is_visible("#panel-history") and not await page.is_visible("#panel-log")
        assert await page.evaluate("document.activeElement.id") == "tab-history"
        await page.locator("#history-list .history-item").first.wait_for(timeout=5_000)  # fetched on opening
        assert await page.locator("#history-list .history-item").count() == 1
        errors = [e for e in tab.console_errors if "Permission denied" not in e]
        assert errors == []


async def test_no_api_key_is_explained_and_the_page_still_works(tmp_path: Path, browser: Any, artifacts: Path) -> None:
    async with live_app(page_app(tmp_path, None, openai_api_key=None)) as server:
        tab = await open_page(browser, server.http_url)
        page = tab.page
        notice = page.locator(".notice[data-id=no-model]")
        await notice.wait_for(timeout=5_000)
        assert "No API key configured" in await notice.inner_text() and "OPENAI_API_KEY" in await notice.inner_text()
        assert await page.is_disabled("#talk")
        await page.fill("#task-input", TASK)
        await page.keyboard.press("Enter")  # kept in the box with the reason (tests/browser/test_first_hour_page.py)
        assert await page.input_value("#task-input") == TASK
        assert await page.locator(".notice").count() == 1  # the same clear message, not a second one
        await page.screenshot(path=str(artifacts / "page-no-api-key-1440x900.png"))
        tab.assert_no_console_errors()


async def test_reconnects_by_itself_and_misses_nothing(tmp_path: Path, browser: Any, artifacts: Path) -> None:
    app = page_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=0.6)))
    async with serve(app) as server:
        port = server.port
        tab = await open_page(browser, server.http_url)
        page = tab.page
        await page.fill("#task-input", TASK)
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".step[data-agent=Manager]", timeout=10_000)
        # The connection drops in the middle of the run.
        await page.evaluate("window.__app.team.ws.close()")
        await page.locator(".run .answer").wait_for(timeout=15_000)
        urls = await page.evaluate("""() => [...document.querySelectorAll('#event-log .log-row[data-name=connecting]')]
          .map(r => r.querySelector('summary').textContent)""")
        assert len(urls) >= 2
        last_seq = await page.evaluate("window.__app.team.lastSeq")
        seen = await page.evaluate("[...window.__app.timeline.seen].sort((a, b) => a - b)")
        assert seen == list(range(1, last_seq + 1))  # every event once, none missing
        assert await page.locator(".answer").count() == 1
        await expand_log(page)
        reconnect = await page.locator("#event-log .log-row[data-name=connecting] pre").last.inner_text()
        assert "after=" in reconnect and "session=s_" in reconnect
    # The server goes away: the page says so and keeps trying.
    notice = page.locator(".notice[data-id=offline]")
    await notice.wait_for(timeout=10_000)
    assert "reach the server" in await notice.inner_text()
    assert await page.inner_text("#server-text") == "Server unreachable"
    await page.screenshot(path=str(artifacts / "page-offline-1440x900.png"))
    # It comes back on the same port with the same store: the page reconnects to its session by itself.
    async with serve(page_app(tmp_path, ScriptBook(paris_script)), port=port):
        retry = page.locator(".notice[data-id=offline] button:has-text('Retry now')")
        with contextlib.suppress(PlaywrightTimeoutError):  # its own retry may win the race: fine, that is the point
            await retry.click(timeout=3_000)
        await page.wait_for_selector("body[data-team-state=open]", timeout=10_000)
        await notice.wait_for(state="detached")
        await page.fill("#task-input", "And in Berlin?")
        await page.keyboard.press("Enter")
        await page.wait_for_function("() => document.querySelectorAll('.run .answer').length === 2", timeout=15_000)
        seen = await page.evaluate("[...window.__app.timeline.seen].sort((a, b) => a - b)")
        assert seen == list(range(1, seen[-1] + 1))
    errors = [e for e in tab.console_errors if "WebSocket" not in e and "ERR_CONNECTION_REFUSED" not in e]
    assert errors == []
    await asyncio.sleep(0)


async def test_access_token_is_asked_for_used_and_never_shown(tmp_path: Path, browser: Any) -> None:
    token = "team-" + "token-" + "4f9c2a71b3"
    app = page_app(tmp_path, ScriptBook(paris_script), app_token=token)
    async with live_app(app) as server:
        tab: BrowserPage = await browser()
        page = tab.page
        await page.goto(server.http_url + "/")
        dialog = page.locator("#token-dialog")
        await dialog.wait_for(timeout=5_000)
        assert await page.get_attribute("body", "data-team-state") == "connecting"  # nothing opened without it
        await page.fill("#token-input", token)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-team-state=open]", timeout=10_000)
        await page.fill("#task-input", TASK)
        await page.keyboard.press("Enter")
        await page.locator(".run .answer").wait_for(timeout=15_000)
        content = await expand_log(page)
        assert "token=••••••" in content  # the socket address is shown, its token masked
        assert token not in content
        tab.console_errors[:] = [e for e in tab.console_errors if "401" not in e]  # the probe that found out
        tab.assert_no_console_errors()


async def test_pause_resume_and_cancel_buttons(tmp_path: Path, browser: Any) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.5, runs=2))
    async with live_app(page_app(tmp_path, book)) as server:
        tab = await open_page(browser, server.http_url)
        page = tab.page
        await page.fill("#task-input", TASK)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-run-state=running]")
        await page.click("#pause")
        await page.wait_for_selector("body[data-run-state=paused]", timeout=10_000)
        assert await page.inner_text("#team-state") == "Paused"
        assert await page.inner_text(".run .status-badge") == "Paused"
        assert await page.is_enabled("#resume") and await page.is_disabled("#pause")
        await page.click("#resume")
        await page.locator(".run .answer").wait_for(timeout=15_000)
        assert PARIS_ANSWER in await page.inner_text(".run .answer")
        await page.wait_for_selector("body[data-run-state=idle]")
        await page.fill("#task-input", "And tomorrow?")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-run-state=running]")
        await page.click("#cancel")
        await page.wait_for_selector(".run[data-status=cancelled]", timeout=10_000)
        assert await page.inner_text(".run[data-status=cancelled] .status-badge") == "Cancelled"
        sent = await log_names(page, "#event-log .log-row[data-dir=sent][data-kind=team]")
        assert sent == ["task", "pause", "resume", "task", "cancel"]
        tab.assert_no_console_errors()
