"""The cost bench's tasks (bench/cost.py): five scripted research tasks and a longer one, the replies each role
gives in the text conventions, the same Manager decisions as delegate()/finish() calls, and the selector model
a perfect selector would be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.chat import tool_call

Reply = Any  # a scripted fake reply: str or tool_call(...)


@dataclass(frozen=True)
class Restating:
    """A worker's turn that only restates its tool result: the team before issue 28 asks for it; today's
    team sends such results to the Manager as they are (agents/manager/tool_reports.py), so it is not scripted."""

    text: str


def worker_replies(replies: list[Reply], restates: bool) -> list[Reply]:
    """`replies` for a team that restates tool results (`restates`) or not."""
    return [r.text if isinstance(r, Restating) else r for r in replies if restates or not isinstance(r, Restating)]


@dataclass
class Task:
    name: str
    question: str
    replies: dict[str, list[Reply]]  # role -> replies in order
    follow_up: bool = False  # asked in the previous task's session
    extra: bool = False  # not one of the five tasks: a longer one, reported apart


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
                    Restating("Alan Turing was born 23 June 1912 in Maida Vale, London (Wikipedia: Alan Turing)."),
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
                    Restating('"Attention Is All You Need", Vaswani et al., arXiv:1706.03762 (2017).'),
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
                "developer": [tool_call("run_python", {"code": compound}), Restating("The result is 16288.95.")],
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
                "developer": [tool_call("run_python", {"code": compound7}), Restating("The result is 19671.51.")],
            },
            follow_up=True,
        ),
        Task(
            "longer (3 steps)",
            "How many years passed between Alan Turing's birth and the paper that introduced the Transformer?",
            {
                "manager": [
                    "TASK: Find Alan Turing's date of birth on Wikipedia.\nNEXT AGENT: Researcher",
                    "TASK: Find the year the arXiv paper that introduced the Transformer was published.\n"
                    "NEXT AGENT: Researcher",
                    "TASK: Compute 2017 - 1912.\nNEXT AGENT: Developer",
                    "Alan Turing was born on 23 June 1912; the Transformer paper (Vaswani et al.) appeared in "
                    "2017, 105 years later. Source: https://arxiv.org/abs/1706.03762\nTERMINATE",
                ],
                "researcher": [
                    tool_call("wikipedia_search", {"query": "Alan Turing"}),
                    Restating("Alan Turing was born 23 June 1912 (Wikipedia: Alan Turing)."),
                    tool_call("arxiv_search", {"query": "attention is all you need"}),
                    Restating('"Attention Is All You Need", Vaswani et al., arXiv:1706.03762, 2017.'),
                ],
                "developer": [tool_call("run_python", {"code": "print(2017 - 1912)"}), Restating("2017 - 1912 = 105.")],
            },
            extra=True,
        ),
    ]


_ENTRY = re.compile(r"^(\w+): ", re.MULTILINE)
_SOURCE = re.compile(r"\s*Source: (\S+)\s*$")


def as_tool_calls(reply: Reply) -> Reply:
    """A text-convention Manager reply as the delegate()/finish() call that says the same."""
    if not isinstance(reply, str):
        return reply
    body, _, agent = reply.partition("\nNEXT AGENT: ")
    if agent:
        return tool_call("delegate", {"agent": agent.strip(), "instructions": body.removeprefix("TASK: ").strip()})
    answer = reply.removesuffix("TERMINATE").strip()
    source = _SOURCE.search(answer)
    sources = [source.group(1)] if source else []
    return tool_call("finish", {"answer": _SOURCE.sub("", answer).strip(), "sources": sources})


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
