"""Progress lines and answers in words, without the team's grammar (issue 24)."""

from __future__ import annotations

from typing import Any

import pytest

from agents.manager.grammar import strip_control_words
from app.core.steps import describe_step


def event(kind: str, source: str, content: Any) -> dict[str, Any]:
    return {"source": "team", "type": kind, "data": {"source": source, "content": content}}


@pytest.mark.parametrize(
    ("step", "line"),
    [
        (
            event("TextMessage", "Manager", "TASK: Find the current weather in Paris.\nNEXT AGENT: Researcher"),
            "The Manager asks the Researcher: Find the current weather in Paris.",
        ),
        (
            event(
                "ToolCallRequestEvent",
                "Manager",
                [{"name": "delegate", "arguments": '{"agent": "Researcher", "instructions": "Find the weather."}'}],
            ),
            "The Manager asks the Researcher to find the weather.",
        ),
        (
            event("ToolCallRequestEvent", "Researcher", [{"name": "web_search", "arguments": '{"query": "Paris"}'}]),
            'The Researcher searches the web for "Paris"',
        ),
        (
            event(
                "ToolCallExecutionEvent", "Researcher", [{"name": "web_search", "content": "down", "is_error": True}]
            ),
            "The Researcher's web_search failed: down",
        ),
        (event("TextMessage", "Manager", "FINAL ANSWER: It is 18 °C.\nTERMINATE"), "The Manager: It is 18 °C."),
        (event("ToolCallExecutionEvent", "Manager", [{"name": "delegate", "content": "ok", "is_error": False}]), None),
    ],
)
def test_steps_are_in_words(step: dict[str, Any], line: str | None) -> None:
    said = describe_step(step)
    assert said == line
    for word in ("NEXT AGENT", "TERMINATE", "TASK:", "FINAL ANSWER"):
        assert word not in (said or "")


@pytest.mark.parametrize(
    "raw", ["FINAL ANSWER: It is 18 °C.", "**Final answer:** It is 18 °C.\nTERMINATE", "Final Answer:It is 18 °C."]
)
def test_answers_lose_the_final_answer_label(raw: str) -> None:
    assert strip_control_words(raw) == "It is 18 °C."
