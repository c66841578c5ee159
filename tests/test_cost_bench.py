"""The cost bench (bench/cost.py) as a test: the deterministic selector saves exactly the selector's calls and
changes nothing else, and trimming cuts the long page's cost. Prints the bench's table."""

from __future__ import annotations

import re

import pytest

from bench.cost import measure, report, tasks


def without_port(answer: str) -> str:
    """Each configuration has its own fixture server, so cited URLs differ in the port only."""
    return re.sub(r"127\.0\.0\.1:\d+", "fixtures", answer)


async def test_selector_and_trimming_savings(capsys: pytest.CaptureFixture[str]) -> None:
    results = await measure()
    on, off, untrimmed = results["selector on"], results["selector off"], results["untrimmed"]
    turns = [sum(len(replies) for replies in t.replies.values()) for t in tasks("")]
    # Selector on: one model call per scripted reply, none for routing.
    assert [c.calls for c in on] == turns
    # Selector off: the same conversation (same answers), plus one selector call per speaker turn.
    assert [without_port(c.answer) for c in off] == [without_port(c.answer) for c in on]
    assert all(b.calls > a.calls and b.prompt_tokens > a.prompt_tokens for a, b in zip(on, off, strict=True))
    # Trimming: the weather page costs far less capped; the tools whose output is already short cost the same.
    assert untrimmed[0].prompt_tokens > 1.5 * on[0].prompt_tokens
    assert [c.prompt_tokens for c in untrimmed[1:]] == [c.prompt_tokens for c in on[1:]]
    with capsys.disabled():
        print()
        report(results)
