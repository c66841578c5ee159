"""The cost bench's tasks (bench/cost.py): five scripted research tasks and a longer one, the replies each role
gives (the Manager's as delegate()/finish() calls), and the selector model a perfect selector would be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.chat import tool_call

Reply = Any  # a scripted fake reply: str or tool_call(...)


@dataclass
class Task:
    name: str
    question: str
    replies: dict[str, list[Reply]]  # role -> replies in order
    follow_up: bool = False  # asked in the previous task's session
    extra: bool = False  # not one of the five tasks: a longer one, reported apart


def delegate(agent: str, instructions: str) -> Reply:
    return tool_call("delegate", {"agent": agent, "instructions": instructions})


def finish(answer: str, *sources: str) -> Reply:
    return tool_call("finish", {"answer": answer, "sources": list(sources)})


def tasks(pages: str) -> list[Task]:
    """The five research tasks and the replies each role gives. `pages` is the fixture server's base URL.

    A worker's tool round that answers the Manager's instruction reaches the Manager as it is
    (agents/manager/tool_reports.py), so only the fetched weather page, too long to pass on, is restated."""
    compound = "principal = 10_000\nfor year in range(10):\n    principal *= 1.05\nprint(round(principal, 2))"
    compound7 = compound.replace("1.05", "1.07")
    return [
        Task(
            "weather",
            "What's the weather in Paris right now?",
            {
                "manager": [
                    delegate(
                        "Researcher",
                        "Find the current weather in Paris: temperature, conditions and wind, from a reliable source.",
                    ),
                    finish(
                        "It is 18 °C and partly cloudy in Paris, with a light south-west wind.",
                        f"{pages}/pages/paris-weather.html",
                    ),
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
                    delegate("Researcher", "Find Alan Turing's date and place of birth on Wikipedia."),
                    finish(
                        "Alan Turing was born on 23 June 1912 in Maida Vale, London.",
                        "https://en.wikipedia.org/wiki/Alan_Turing",
                    ),
                ],
                "researcher": [tool_call("wikipedia_search", {"query": "Alan Turing"})],
            },
        ),
        Task(
            "arxiv lookup",
            "Which paper introduced the Transformer?",
            {
                "manager": [
                    delegate(
                        "Researcher",
                        "Find the arXiv paper that introduced the Transformer architecture: title, authors, id.",
                    ),
                    finish(
                        'The Transformer was introduced in "Attention Is All You Need" (Vaswani et al., 2017), '
                        "arXiv:1706.03762.",
                        "https://arxiv.org/abs/1706.03762",
                    ),
                ],
                "researcher": [tool_call("arxiv_search", {"query": "attention is all you need"})],
            },
        ),
        Task(
            "developer calculation",
            "What do 10,000 euros grow to in 10 years at 5% a year?",
            {
                "manager": [
                    delegate("Developer", "Compute 10,000 compounded yearly at 5% for 10 years, to the cent."),
                    finish("10,000 € at 5% a year for 10 years grows to 16,288.95 €."),
                ],
                "developer": [tool_call("run_python", {"code": compound})],
            },
        ),
        Task(
            "follow-up",
            "And at 7%?",
            {
                "manager": [
                    delegate("Developer", "Same calculation at 7% a year."),
                    finish("At 7% a year it grows to 19,671.51 €."),
                ],
                "developer": [tool_call("run_python", {"code": compound7})],
            },
            follow_up=True,
        ),
        Task(
            "longer (3 steps)",
            "How many years passed between Alan Turing's birth and the paper that introduced the Transformer?",
            {
                "manager": [
                    delegate("Researcher", "Find Alan Turing's date of birth on Wikipedia."),
                    delegate(
                        "Researcher", "Find the year the arXiv paper that introduced the Transformer was published."
                    ),
                    delegate("Developer", "Compute 2017 - 1912."),
                    finish(
                        "Alan Turing was born on 23 June 1912; the Transformer paper (Vaswani et al.) appeared in "
                        "2017, 105 years later.",
                        "https://arxiv.org/abs/1706.03762",
                    ),
                ],
                "researcher": [
                    tool_call("wikipedia_search", {"query": "Alan Turing"}),
                    tool_call("arxiv_search", {"query": "attention is all you need"}),
                ],
                "developer": [tool_call("run_python", {"code": "print(2017 - 1912)"})],
            },
            extra=True,
        ),
    ]


_ENTRY = re.compile(r"^(\w+): ", re.MULTILINE)


def perfect_selector(body: dict[str, Any]) -> str:
    """The selector model's answer, chosen the way a good model would: after the person or a worker, the
    Manager; after the Manager, whoever it named (its delegate() call reads "... NEXT AGENT: <worker>" in the
    history, agents/manager/tools.py)."""
    prompt = body["messages"][0]["content"]
    history = prompt.split("Conversation so far:", 1)[1].rsplit("Read the above conversation.", 1)[0]
    starts = list(_ENTRY.finditer(history))
    last_source = starts[-1].group(1) if starts else "user"
    if last_source != "Manager":
        return "Manager"
    named = re.findall(r"NEXT AGENT:\s*(\w+)", history[starts[-1].start() :])
    return named[-1] if named else "Manager"
