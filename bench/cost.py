"""What a research task costs the team in model calls and prompt tokens, with the deterministic selector on
and off; how much of each prompt is a prefix the provider can cache; and what tool-output trimming saves.

Five scripted tasks run through the whole server: /ws/team, the real AutoGen team with AutoGen's real
OpenAIChatCompletionClient talking to the fake OpenAI server (tests/fakes), and the real tools (web search,
page fetch, Wikipedia, arXiv against the recorded fixtures in tests/fixtures/tools; Python in the local code
sandbox). The models' replies are scripted; token counts are the fake's estimate (4 characters per token,
messages plus tool definitions, as the real API counts them). The fifth task is a follow-up in the fourth's
session, so it pays for the history it carries.

With the deterministic selector off, every turn asks the selector model; the fake answers it as a perfect
selector would, so both modes run the same conversation and only the selector's own cost differs.
"Untrimmed" is the selector-on team with the tools' output cap lifted (TOOL_OUTPUT_MAX_CHARS).

"Cacheable prefix": the part of a prompt (tools, then messages, in whole messages) that an earlier request to
the same model began with; "cached" is what OpenAI's cache would serve of it (only prompts of 1,024 tokens or
more, in steps of 128). See tests/fakes/chat/wire.py PromptCache.
Run: .venv/bin/python -m bench.cost
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.models.budget import TokenPrice  # noqa: E402
from agents.models.metering import MeterUsage  # noqa: E402
from app.core.prices import ModelPrice, role_models  # noqa: E402
from app.main import create_app  # noqa: E402
from bench.cost_tasks import perfect_selector, tasks  # noqa: E402
from tests.fakes.chat import ChatRequest, dynamic, estimate_tokens  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402
from tests.support.fixture_server import FixtureServer, start_fixture_server, weather_page  # noqa: E402
from tests.support.fixture_server import make_settings as tool_settings  # noqa: E402
from tests.support.live_server import live_app, make_settings  # noqa: E402
from tools import build_researcher_tools  # noqa: E402
from tools.code_execution import CodeSandbox  # noqa: E402
from tools.extract import extract_html  # noqa: E402


@dataclass
class TaskCost:
    calls: int
    prompt_tokens: int
    answer: str
    prefix_tokens: int = 0  # prompt tokens an earlier request (same model) already began with
    cached_tokens: int = 0  # what OpenAI's prompt cache would serve of them
    by_role: dict[str, int] = field(default_factory=dict)  # prompt tokens per role
    tool_definitions: int = 0  # prompt tokens spent on tool definitions
    reported_cached: int = 0  # cached prompt tokens in run_finished.usage (read from each response)
    usd: float = 0.0  # run_finished.spent.usd at PRICE: cached input priced apart
    usd_uncached: float = 0.0  # the same tokens with every prompt token priced as input


PRICE = ModelPrice(input=0.4, output=1.6, cached_input=0.1)
"""An illustrative price for every role (USD per million tokens: gpt-4.1-mini's list price, cached input at a
quarter), so the bench shows what pricing cached input apart changes; the server's own table is app/core/prices.py."""


@dataclass(frozen=True)
class Config:
    deterministic: bool
    output_cap: int = 4000


CONFIGS = {
    "selector on": Config(deterministic=True),
    "selector off": Config(deterministic=False),
    "untrimmed": Config(deterministic=True, output_cap=1_000_000),
}


def cost_of(requests: list[ChatRequest], finished: dict[str, Any]) -> TaskCost:
    by_role: dict[str, int] = {}
    for r in requests:
        by_role[r.role] = by_role.get(r.role, 0) + r.prompt_tokens
    usage = finished["usage"]
    flat = TokenPrice(PRICE.input, PRICE.output)
    return TaskCost(
        usage["model_calls"],
        usage["prompt_tokens"],
        finished["final_answer"],
        prefix_tokens=sum(r.prefix_tokens for r in requests),
        cached_tokens=sum(r.cached_tokens for r in requests),
        by_role=by_role,
        tool_definitions=sum(estimate_tokens(len(json.dumps(r.tools))) for r in requests if r.tools),
        reported_cached=usage["cached_prompt_tokens"],
        usd=finished["spent"]["usd"],
        usd_uncached=round(
            flat.usd(MeterUsage(usage["model_calls"], usage["prompt_tokens"], usage["completion_tokens"])), 6
        ),
    )


async def run_tasks(fake: FakeOpenAI, fixtures: FixtureServer, data: Path, config: Config) -> list[TaskCost]:
    """Run the five tasks on a fresh server; the cost of each comes from the run's own usage report."""
    chosen = tasks(fixtures.base)
    for task in chosen:
        for role, replies in task.replies.items():
            fake.chat.add(role, *replies)
    fake.chat.fallback("selector", dynamic(perfect_selector))
    t_settings = tool_settings(fixtures, data, tool_output_max_chars=config.output_cap)
    sandbox = CodeSandbox.from_settings(t_settings)
    await sandbox.start()
    models = role_models(make_settings(data))
    settings = make_settings(
        data,
        openai_api_key="sk-" + "bench-not-a-real-key",
        openai_base_url=fake.base_url,
        deterministic_selector=config.deterministic,
        model_max_retries=0,
        model_prices={model: PRICE for model in models.values()},
    )
    app = create_app(
        settings,
        researcher_tools=build_researcher_tools(t_settings),
        developer_tools=lambda sid: [sandbox.tool_for(sid)],
        configure_logs=False,
    )
    costs: list[TaskCost] = []
    try:
        async with live_app(app) as server:
            client = None
            for task in chosen:
                if client is None or not task.follow_up:
                    if client is not None:
                        await client.close()
                    client = await server.connect()
                    await client.recv()
                first = fake.chat.count()
                await client.send({"type": "task", "text": task.question})
                done = await client.until(lambda e: e["type"] == "run_finished", timeout=60)
                if done["data"]["stop_reason"] != "completed":
                    raise RuntimeError(f"{task.name}: {done['data']}")
                costs.append(cost_of(fake.chat.requests[first:], done["data"]))
            assert client is not None
            await client.close()
    finally:
        await sandbox.stop()
    problems = fake.problems()
    if problems:
        raise RuntimeError(f"the fake OpenAI saw problems: {problems}")
    return costs


@contextmanager
def fakes() -> Iterator[tuple[FakeOpenAI, FixtureServer]]:
    fixtures = start_fixture_server()
    try:
        with FakeOpenAI() as fake:
            yield fake, fixtures
    finally:
        fixtures.close()


async def measure() -> dict[str, list[TaskCost]]:
    """Cost per task in every configuration, each on its own fresh fakes and server."""
    results = {}
    for label, config in CONFIGS.items():
        with fakes() as (fake, fixtures), tempfile.TemporaryDirectory() as tmp:
            results[label] = await run_tasks(fake, fixtures, Path(tmp), config)
    return results


def _total(costs: list[TaskCost], attr: str) -> int:
    return sum(int(getattr(c, attr)) for c in costs)


def report(all_results: dict[str, list[TaskCost]]) -> None:
    extra = [t.extra for t in tasks("")]
    names = [t.name for t in tasks("") if not t.extra]
    results = {k: [c for c, x in zip(v, extra, strict=True) if not x] for k, v in all_results.items()}
    longer = {k: [c for c, x in zip(v, extra, strict=True) if x] for k, v in all_results.items()}
    columns = ["selector on", "selector off"]
    print("model calls and prompt tokens per task (tool output capped at 4,000 characters)")
    print(f"{'task':<22}" + "".join(f"{c:>22}" for c in columns) + f"{'on / off':>10}")
    rows = [*zip(names, *(results[c] for c in columns), strict=True)]
    for name, *costs in rows:
        cells = "".join(f"{c.calls:>7} calls {c.prompt_tokens:>6} tok" for c in costs)
        print(f"{name:<22}{cells}{costs[0].prompt_tokens / costs[1].prompt_tokens:>10.0%}")
    totals = "".join(
        f"{_total(results[c], 'calls'):>7} calls {_total(results[c], 'prompt_tokens'):>6} tok" for c in columns
    )
    on, off = results["selector on"], results["selector off"]
    ratio = _total(on, "prompt_tokens") / _total(off, "prompt_tokens")
    print(f"{'total':<22}{totals}{ratio:>10.0%}")
    for index, name in enumerate(t.name for t in tasks("") if t.extra):
        costs = [longer[c][index] for c in columns]
        cells = "".join(f"{c.calls:>7} calls {c.prompt_tokens:>6} tok" for c in costs)
        print(f"{name:<22}{cells}{costs[0].prompt_tokens / costs[1].prompt_tokens:>10.0%}  (not in the five)")
    print()
    print("where the prompt tokens go, all five tasks")
    print(f"{'configuration':<24}{'manager':>9}{'researcher':>12}{'developer':>11}{'selector':>10}{'tool defs':>11}")
    for label in columns:
        by_role = {r: sum(c.by_role.get(r, 0) for c in results[label]) for r in ("manager", "researcher", "developer")}
        selector = sum(c.by_role.get("selector", 0) for c in results[label])
        tool_defs = _total(results[label], "tool_definitions")
        print(
            f"{label:<24}{by_role['manager']:>9}{by_role['researcher']:>12}{by_role['developer']:>11}"
            f"{selector:>10}{tool_defs:>11}"
        )
    print()
    print("prompt tokens in a cacheable prefix (shared with an earlier request), and what OpenAI would cache")
    print(f"{'configuration':<24}{'prompt tok':>11}{'prefix':>9}{'share':>7}{'cached':>9}{'share':>7}")
    for label in columns:
        prompt, prefix = _total(results[label], "prompt_tokens"), _total(results[label], "prefix_tokens")
        cached = _total(results[label], "cached_tokens")
        print(f"{label:<24}{prompt:>11}{prefix:>9}{prefix / prompt:>7.0%}{cached:>9}{cached / prompt:>7.0%}")
    print()
    report_per_task(names, on, off)
    print()
    untrimmed = results["untrimmed"]
    print("tool-output trimming (selector on): prompt tokens with the 4,000-character cap vs without")
    print(f"{'task':<24}{'trimmed':>10}{'untrimmed':>12}{'saved':>10}")
    for name, a, u in zip(names, on, untrimmed, strict=True):
        print(f"{name:<24}{a.prompt_tokens:>10}{u.prompt_tokens:>12}{1 - a.prompt_tokens / u.prompt_tokens:>10.0%}")
    trimmed, raw = _total(on, "prompt_tokens"), _total(untrimmed, "prompt_tokens")
    print(f"{'total':<24}{trimmed:>10}{raw:>12}{1 - trimmed / raw:>10.0%}")
    page = weather_page()
    text = extract_html(page, "https://weather.example/paris").text
    print(
        f"(the weather task fetches a {len(page):,}-byte page of {len(text):,} characters of text; with the cap "
        f"the Researcher gets at most 4,000 characters of it)"
    )


def report_per_task(names: list[str], costs: list[TaskCost], off: list[TaskCost]) -> None:
    """The team as it runs (selector on), per task: calls, prompt tokens (and their share of the selector-off
    team's), tool definitions, the cacheable prefix, cached tokens (as the fake's cache served them and as
    run_finished.usage reported them), and USD at PRICE with cached input apart."""
    print(
        f"per task, the team as it runs (selector on); USD at ${PRICE.input}/{PRICE.cached_input}/"
        f"{PRICE.output} per million input/cached/output"
    )
    print(
        f"{'task':<22}{'calls':>6}{'prompt':>8}{'of off':>8}{'tools':>7}{'prefix':>8}{'share':>7}{'cached':>8}"
        f"{'reported':>9}{'USD':>10}{'USD flat':>10}"
    )
    rows = [*zip(names, costs, off, strict=True), ("total", _sum(costs), _sum(off))]
    for name, c, o in rows:
        print(
            f"{name:<22}{c.calls:>6}{c.prompt_tokens:>8}{c.prompt_tokens / o.prompt_tokens:>8.0%}"
            f"{c.tool_definitions:>7}{c.prefix_tokens:>8}{c.prefix_tokens / c.prompt_tokens:>7.0%}"
            f"{c.cached_tokens:>8}{c.reported_cached:>9}{c.usd:>10.6f}{c.usd_uncached:>10.6f}"
        )


def _sum(costs: list[TaskCost]) -> TaskCost:
    fields = ("calls", "prompt_tokens", "tool_definitions", "prefix_tokens", "cached_tokens", "reported_cached")
    total = TaskCost(0, 0, "")
    for f in fields:
        setattr(total, f, _total(costs, f))
    total.usd = round(sum(c.usd for c in costs), 6)
    total.usd_uncached = round(sum(c.usd_uncached for c in costs), 6)
    return total


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    report(asyncio.run(measure()))


if __name__ == "__main__":
    main()
