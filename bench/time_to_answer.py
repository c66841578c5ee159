"""Time to answer: how long a person waits, and for how many model calls, for a one-fact and a three-part
question, with a fake OpenAI that takes a fixed time per chat completion (1.0 s by default).

The whole server runs as in production: /ws/team, the real AutoGen team, AutoGen's OpenAI client against the
fake OpenAI server (tests/fakes), the real research tools against a small web (the tool fixture server, whose
search also answers a weather query with the Paris weather page). The models are scripted by what they are
shown, not by a fixed list, so the script holds whatever route the team takes:
- the Manager delegates the first part of the question that no worker's report covers yet, one part per
  instruction (as its prompt asks), and finishes with the parts' answers and their sources once all are covered;
- a worker called with its instruction calls the tool for it (web_search, wikipedia_search, arxiv_search); called
  again with its tool result (routing asks it to go on when the result does not answer the instruction as it
  is, agents/manager/tool_reports.py), it restates the result in a sentence with the URL.
Each figure is the median of `--runs` runs in a fresh session.

Printed per question: model calls on the critical path (calls that ran one after another), all model calls,
task -> answer over /ws/team (task sent -> run_finished received), whether every source of the answer was
verified against what the tools returned, and the sources.
Run: .venv/bin/python -m bench.time_to_answer [--delay 1.0] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from tests.fakes.chat import Text, dynamic, tool_call  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402
from tests.support import fixture_server  # noqa: E402
from tests.support.fixture_server import FixtureServer  # noqa: E402
from tests.support.fixture_server import make_settings as tool_settings  # noqa: E402
from tests.support.live_server import live_app, make_settings  # noqa: E402
from tools import build_researcher_tools  # noqa: E402

WORKERS = ("Researcher", "Developer")


@dataclass(frozen=True)
class Part:
    """One part of a question: the words that pick it out of an instruction, the tool call that answers it,
    what its answer must contain (`marker`), the answer's sentence and where the team read it."""

    name: str
    keyword: str
    instruction: str
    tool: str
    arguments: dict[str, Any]
    marker: str
    answer: str
    source: str


def parts(pages: str) -> dict[str, Part]:
    return {
        "weather": Part(
            "weather",
            "weather",
            "Find the current weather in Paris: temperature, sky and wind.",
            "web_search",
            {"query": "Paris weather now"},
            "18 °C",
            "It is 18 °C and partly cloudy in Paris, with a light south-west wind.",
            f"{pages}/pages/paris-weather.html",
        ),
        "turing": Part(
            "turing",
            "Turing",
            "Find when Alan Turing was born, on Wikipedia.",
            "wikipedia_search",
            {"query": "Alan Turing"},
            "1912",
            "Alan Turing was born on 23 June 1912.",
            "https://en.wikipedia.org/wiki/Alan_Turing",
        ),
        "transformer": Part(
            "transformer",
            "Transformer",
            "Find the arXiv paper that introduced the Transformer.",
            "arxiv_search",
            {"query": "attention is all you need"},
            "1706.03762",
            'The Transformer was introduced in "Attention Is All You Need" (arXiv:1706.03762).',
            "https://arxiv.org/abs/1706.03762",
        ),
    }


QUESTIONS = {
    "one-fact": ("What is the weather in Paris right now?", ["weather"]),
    "three-part": (
        "What is the weather in Paris right now, when was Alan Turing born, and which paper introduced the "
        "Transformer?",
        ["weather", "turing", "transformer"],
    ),
}


@dataclass
class Calls:
    """When each chat completion ran (fake's clock), to count the calls that ran one after another."""

    spans: list[tuple[float, float, str]] = field(default_factory=list)

    def critical_path(self) -> int:
        waves, end = 0, 0.0
        for start, stop, _ in sorted(self.spans):
            if start >= end:
                waves += 1
                end = stop
            else:
                end = max(end, stop)
        return waves


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def manager_reply(body: dict[str, Any], wanted: list[Part]) -> Any:
    """Delegate the first part no worker's report covers, else finish with every part's answer and source."""
    messages = body["messages"]
    start = max(i for i, m in enumerate(messages) if m.get("role") == "user" and m.get("name", "user") == "user")
    reports = " ".join(_text(m) for m in messages[start:] if m.get("role") == "user" and m.get("name") in WORKERS)
    for part in wanted:
        if part.marker not in reports:
            return tool_call("delegate", {"agent": "Researcher", "instructions": part.instruction})
    answer = " ".join(p.answer for p in wanted)
    return tool_call("finish", {"answer": answer, "sources": [p.source for p in wanted]})


def worker_reply(body: dict[str, Any], every: dict[str, Part]) -> Any:
    """A tool call for the instruction, or (after a tool result) a sentence restating it with its URL."""
    messages = body["messages"]
    last = messages[-1]
    instruction = next(_text(m) for m in reversed(messages) if m.get("role") == "user")
    part = next(p for p in every.values() if p.keyword in instruction)
    if last.get("role") == "tool":
        result = _text(last)
        url = next(iter(re.findall(r"https?://\S+", result)), part.source)
        return Text(f"{part.answer} ({url})")
    return tool_call(part.tool, part.arguments)


def script(fake: FakeOpenAI, wanted: list[Part], every: dict[str, Part], delay: float, calls: Calls) -> None:
    def timed(role: str, reply: Any) -> Any:
        async def answer(body: dict[str, Any]) -> Any:
            start = time.perf_counter()
            await asyncio.sleep(delay)
            calls.spans.append((start, time.perf_counter(), role))
            return reply(body)

        return dynamic(answer)

    fake.chat.fallback("manager", timed("manager", lambda b: manager_reply(b, wanted)))
    fake.chat.fallback("researcher", timed("researcher", lambda b: worker_reply(b, every)))
    fake.chat.fallback("selector", timed("selector", lambda b: "Manager"))


def weather_results(pages: str) -> dict[str, Any]:
    """What the small web's search answers for a Paris weather query (Google CSE JSON)."""
    return {
        "items": [
            {
                "title": "Paris weather now",
                "link": f"{pages}/pages/paris-weather.html",
                "snippet": "Right now it is 18 °C and partly cloudy in Paris, with a light south-west wind of "
                "10 km/h. Humidity is 64% and no rain is expected before the evening.",
            },
            {
                "title": "Paris, France: 10-day forecast",
                "link": f"{pages}/pages/paris-forecast.html",
                "snippet": "Mild and partly cloudy this week, highs of 17 to 20 °C, lows near 11 °C.",
            },
        ]
    }


@contextmanager
def small_web() -> Iterator[FixtureServer]:
    """The tool fixture server, whose Google search also answers a Paris weather query."""
    server = fixture_server.start_fixture_server()
    handler = server.server.RequestHandlerClass
    plain = handler._google  # type: ignore[attr-defined]

    def google(self: Any, q: dict[str, str]) -> None:
        if "weather" in q.get("q", "").lower():
            return self._json(200, weather_results(server.base))  # type: ignore[no-any-return]
        return plain(self, q)  # type: ignore[no-any-return]

    handler._google = google  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.close()


@dataclass
class Figures:
    critical: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def build(fake: FakeOpenAI, web: FixtureServer, data: Path) -> Any:
    tools = tool_settings(web, data, google_api_key="bench-key", google_cse_id="bench-cx")
    settings = make_settings(
        data, openai_api_key="sk-" + "bench-not-a-real-key", openai_base_url=fake.base_url, model_max_retries=0
    )
    return create_app(settings, researcher_tools=build_researcher_tools(tools), configure_logs=False)


async def ask_team(question: str, wanted: list[str], delay: float) -> tuple[Calls, float, dict[str, Any]]:
    calls = Calls()
    with small_web() as web, FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        every = parts(web.base)
        script(fake, [every[w] for w in wanted], every, delay, calls)
        async with live_app(build(fake, web, Path(tmp))) as server:
            client = await server.connect()
            await client.recv()
            started = time.perf_counter()
            await client.send({"type": "task", "text": question})
            done = await client.until(lambda e: e["type"] == "run_finished", timeout=120)
            elapsed = time.perf_counter() - started
            await client.close()
        if fake.problems():
            raise RuntimeError(f"the fake OpenAI saw problems: {fake.problems()}")
    return calls, elapsed, done["data"]


async def measure(runs: int, delay: float) -> dict[str, Figures]:
    return {label: await measure_one(runs, question, wanted, delay) for label, (question, wanted) in QUESTIONS.items()}


async def measure_one(runs: int, question: str, wanted: list[str], delay: float) -> Figures:
    fig = Figures()
    for _ in range(runs):
        calls, elapsed, data = await ask_team(question, wanted, delay)
        if data["stop_reason"] != "completed":
            raise RuntimeError(f"{question}: {json.dumps(data)[:500]}")
        fig.critical.append(calls.critical_path())
        fig.total.append(len(calls.spans))
        fig.seconds.append(elapsed)
        fig.verified.append(all(e["verified"] for e in data["source_entries"]) and bool(data["source_entries"]))
        fig.sources = sorted(e["url"].split("/pages/")[-1] for e in data["source_entries"])
    return fig


def report(figures: dict[str, Figures], delay: float) -> None:
    runs = len(next(iter(figures.values())).seconds)
    print(f"time to answer, fake chat completions of {delay:.1f} s each (median of {runs})")
    print(f"{'':<34}" + "".join(f"{label:>22}" for label in figures))
    rows: list[tuple[str, Any]] = [
        ("model calls on the critical path", lambda f: f"{statistics.median(f.critical):g}"),
        ("model calls in all", lambda f: f"{statistics.median(f.total):g}"),
        ("task -> answer (/ws/team)", lambda f: f"{statistics.median(f.seconds):.2f} s"),
        ("sources verified", lambda f: "yes" if all(f.verified) else "NO"),
    ]
    for name, cell in rows:
        print(f"{name:<34}" + "".join(f"{cell(f):>22}" for f in figures.values()))
    for label, f in figures.items():
        print(f"{label} sources: {', '.join(f.sources)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per chat completion")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    report(asyncio.run(measure(args.runs, args.delay)), args.delay)


if __name__ == "__main__":
    main()
