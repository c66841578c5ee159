"""What a research task costs in model calls and prompt tokens, with the deterministic selector on and off,
and what tool-output trimming saves.

Five scripted tasks run through the whole server: /ws/team, the real AutoGen team with AutoGen's real
OpenAIChatCompletionClient talking to the fake OpenAI server (tests/fakes), and the real tools (web search,
page fetch, Wikipedia, arXiv against the recorded fixtures in tests/fixtures/tools; Python in the local code
sandbox). The models' replies are scripted; token counts are the fake's estimate (4 characters per token,
messages plus tool definitions, as the real API counts them). The fifth task is a follow-up in the fourth's
session, so it pays for the history it carries.

With the deterministic selector off, every turn asks the selector model; the fake answers it as a perfect
selector would, so both modes run the same conversation and only the selector's own cost differs.
Run: .venv/bin/python -m bench.cost
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from tests.fakes.chat import dynamic, tool_call  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402
from tests.live_server import live_app, make_settings  # noqa: E402
from tests.tools.fixture_server import FixtureServer, start_fixture_server, weather_page  # noqa: E402
from tests.tools.fixture_server import make_settings as tool_settings  # noqa: E402
from tools import build_researcher_tools  # noqa: E402
from tools.code_execution import CodeSandbox  # noqa: E402
from tools.extract import extract_html  # noqa: E402

Reply = Any  # a scripted fake reply: str or tool_call(...)


@dataclass
class Task:
    name: str
    question: str
    replies: dict[str, list[Reply]]  # role -> replies in order
    follow_up: bool = False  # asked in the previous task's session


def tasks(pages: str) -> list[Task]:
    """The five research tasks and the replies each role gives. `pages` is the fixture server's base URL."""
    compound = "principal = 10_000\nfor year in range(10):\n    principal *= 1.05\nprint(round(principal, 2))"
    compound7 = compound.replace("1.05", "1.07")
    return [
        Task(
            "weather",
            "What's the weather in Paris right now?",
            {
                "manager": [
                    "TASK: Find the current weather in Paris: temperature, conditions and wind, from a "
                    "reliable source.\nNEXT AGENT: Researcher",
                    "It is 18 °C and partly cloudy in Paris, with a light south-west wind. Source: "
                    f"{pages}/pages/paris-weather.html\nTERMINATE",
                ],
                "researcher": [
                    tool_call("web_search", {"query": "Paris weather now"}),
                    tool_call("fetch_web_content", {"url": f"{pages}/pages/paris-weather.html"}),
                    f"Paris now: 18 °C, partly cloudy, wind SW 10 km/h ({pages}/pages/paris-weather.html).",
                ],
            },
        ),
        Task(
            "wikipedia fact",
            "When was Alan Turing born?",
            {
                "manager": [
                    "TASK: Find Alan Turing's date and place of birth on Wikipedia.\nNEXT AGENT: Researcher",
                    "Alan Turing was born on 23 June 1912 in Maida Vale, London. Source: "
                    "https://en.wikipedia.org/wiki/Alan_Turing\nTERMINATE",
                ],
                "researcher": [
                    tool_call("wikipedia_search", {"query": "Alan Turing"}),
                    "Alan Turing was born 23 June 1912 in Maida Vale, London (Wikipedia: Alan Turing).",
                ],
            },
        ),
        Task(
            "arxiv lookup",
            "Which paper introduced the Transformer?",
            {
                "manager": [
                    "TASK: Find the arXiv paper that introduced the Transformer architecture: title, authors, "
                    "id.\nNEXT AGENT: Researcher",
                    'The Transformer was introduced in "Attention Is All You Need" (Vaswani et al., 2017), '
                    "arXiv:1706.03762. Source: https://arxiv.org/abs/1706.03762\nTERMINATE",
                ],
                "researcher": [
                    tool_call("arxiv_search", {"query": "attention is all you need"}),
                    '"Attention Is All You Need", Vaswani et al., arXiv:1706.03762 (2017).',
                ],
            },
        ),
        Task(
            "developer calculation",
            "What do 10,000 euros grow to in 10 years at 5% a year?",
            {
                "manager": [
                    "TASK: Compute 10,000 compounded yearly at 5% for 10 years, to the cent.\nNEXT AGENT: Developer",
                    "10,000 € at 5% a year for 10 years grows to 16,288.95 €.\nTERMINATE",
                ],
                "developer": [tool_call("run_python", {"code": compound}), "The result is 16288.95."],
            },
        ),
        Task(
            "follow-up",
            "And at 7%?",
            {
                "manager": [
                    "TASK: Same calculation at 7% a year.\nNEXT AGENT: Developer",
                    "At 7% a year it grows to 19,671.51 €.\nTERMINATE",
                ],
                "developer": [tool_call("run_python", {"code": compound7}), "The result is 19671.51."],
            },
            follow_up=True,
        ),
    ]


_ENTRY = re.compile(r"^(\w+): ", re.MULTILINE)


def perfect_selector(body: dict[str, Any]) -> str:
    """The selector model's answer, chosen the way a good model would: after the person or a worker, the
    Manager; after the Manager, whoever it named."""
    prompt = body["messages"][0]["content"]
    history = prompt.split("Conversation so far:", 1)[1].rsplit("Read the above conversation.", 1)[0]
    starts = list(_ENTRY.finditer(history))
    last_source = starts[-1].group(1) if starts else "user"
    if last_source != "Manager":
        return "Manager"
    named = re.findall(r"NEXT AGENT:\s*(\w+)", history[starts[-1].start() :])
    return named[-1] if named else "Manager"


@dataclass
class TaskCost:
    calls: int
    prompt_tokens: int
    answer: str


async def run_tasks(
    fake: FakeOpenAI, fixtures: FixtureServer, data: Path, *, deterministic: bool, output_cap: int
) -> list[TaskCost]:
    """Run the five tasks on a fresh server; the cost of each comes from the run's own usage report."""
    chosen = tasks(fixtures.base)
    for task in chosen:
        for role, replies in task.replies.items():
            fake.chat.add(role, *replies)
    fake.chat.fallback("selector", dynamic(perfect_selector))
    t_settings = tool_settings(fixtures, data, tool_output_max_chars=output_cap)
    sandbox = CodeSandbox.from_settings(t_settings)
    await sandbox.start()
    settings = make_settings(
        data,
        openai_api_key="sk-" + "bench-not-a-real-key",
        openai_base_url=fake.base_url,
        deterministic_selector=deterministic,
        model_max_retries=0,
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
                await client.send({"type": "task", "text": task.question})
                done = await client.until(lambda e: e["type"] == "run_finished", timeout=60)
                if done["data"]["stop_reason"] != "completed":
                    raise RuntimeError(f"{task.name}: {done['data']}")
                usage = done["data"]["usage"]
                costs.append(TaskCost(usage["model_calls"], usage["prompt_tokens"], done["data"]["final_answer"]))
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


async def measure(output_cap: int = 4000, uncapped: int = 1_000_000) -> dict[str, list[TaskCost]]:
    """Cost per task in three configurations, each on its own fresh fakes and server."""
    configs = {"selector on": (True, output_cap), "selector off": (False, output_cap), "untrimmed": (True, uncapped)}
    results = {}
    for label, (deterministic, cap) in configs.items():
        with fakes() as (fake, fixtures), tempfile.TemporaryDirectory() as tmp:
            results[label] = await run_tasks(fake, fixtures, Path(tmp), deterministic=deterministic, output_cap=cap)
    return results


def report(results: dict[str, list[TaskCost]]) -> None:
    on, off, untrimmed = results["selector on"], results["selector off"], results["untrimmed"]
    names = [t.name for t in tasks("")]
    print("model calls and prompt tokens per task (tool output capped at 4,000 characters)")
    print(f"{'task':<24}{'selector on':>22}{'selector off':>22}{'saved':>10}")
    for name, a, b in zip(names, on, off, strict=True):
        print(
            f"{name:<24}{a.calls:>6} calls {a.prompt_tokens:>6} tok{b.calls:>6} calls {b.prompt_tokens:>6} tok"
            f"{1 - a.prompt_tokens / b.prompt_tokens:>9.0%}"
        )
    total = [
        sum(c.calls for c in on),
        sum(c.prompt_tokens for c in on),
        sum(c.calls for c in off),
        sum(c.prompt_tokens for c in off),
    ]
    print(
        f"{'total':<24}{total[0]:>6} calls {total[1]:>6} tok{total[2]:>6} calls {total[3]:>6} tok"
        f"{1 - total[1] / total[3]:>9.0%}"
    )
    print()
    print("tool-output trimming (selector on): prompt tokens with the 4,000-character cap vs without")
    print(f"{'task':<24}{'trimmed':>10}{'untrimmed':>12}{'saved':>10}")
    for name, a, u in zip(names, on, untrimmed, strict=True):
        print(f"{name:<24}{a.prompt_tokens:>10}{u.prompt_tokens:>12}{1 - a.prompt_tokens / u.prompt_tokens:>10.0%}")
    trimmed, raw = sum(c.prompt_tokens for c in on), sum(c.prompt_tokens for c in untrimmed)
    print(f"{'total':<24}{trimmed:>10}{raw:>12}{1 - trimmed / raw:>10.0%}")
    page = weather_page()
    text = extract_html(page, "https://weather.example/paris").text
    print(
        f"(the weather task fetches a {len(page):,}-byte page of {len(text):,} characters of text; with the cap "
        f"the Researcher gets at most 4,000 characters of it)"
    )


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    report(asyncio.run(measure()))


if __name__ == "__main__":
    main()
