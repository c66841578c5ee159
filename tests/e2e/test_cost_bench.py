"""The cost bench (bench/cost.py) as a test: the team makes one model call per scripted reply with the
deterministic selector, and the same conversation (same answers) with the selector model asked on every turn;
prompt tokens stay under their ceiling; trimming cuts the long page's cost. Prints the bench's tables."""

from __future__ import annotations

import re

import pytest

from bench.cost import measure, report
from bench.cost_tasks import tasks


def without_port(answer: str) -> str:
    """Each configuration has its own fixture server, so cited URLs differ in the port only."""
    return re.sub(r"127\.0\.0\.1:\d+", "fixtures", answer)


async def test_costs_with_the_selector_on_and_off(capsys: pytest.CaptureFixture[str]) -> None:
    results = await measure()
    chosen = tasks("")
    replies = [sum(len(r) for r in t.replies.values()) for t in chosen]
    five = [i for i, t in enumerate(chosen) if not t.extra]
    on, off, untrimmed = results["selector on"], results["selector off"], results["untrimmed"]
    # Selector on: one model call per scripted reply, none for routing.
    assert [c.calls for c in on] == replies
    assert sum(on[i].calls for i in five) <= 17
    # The answer is the one the Manager's finish() call gives.
    assert [c.answer for c in on] == [t.replies["manager"][-1].calls[0].arguments["answer"] for t in chosen]
    # Selector off: the same conversation (same answers), plus one selector call per speaker turn.
    assert [without_port(c.answer) for c in off] == [without_port(c.answer) for c in on]
    assert all(b.calls > a.calls and b.prompt_tokens > a.prompt_tokens for a, b in zip(on, off, strict=True))
    # Cacheable prefixes are measured, and are a part of the prompt.
    assert all(0 < c.prefix_tokens < c.prompt_tokens for c in on)
    # The five tasks stay under 10,600 prompt tokens, and tool definitions are not most of them.
    five_on = [on[i] for i in five]
    assert sum(c.prompt_tokens for c in five_on) <= 10_600
    assert sum(c.tool_definitions for c in five_on) <= 0.52 * sum(c.prompt_tokens for c in five_on)
    # The cached tokens run_finished reports are the ones the (fake) API served, call by call; cached input
    # is never dearer than input.
    for costs in results.values():
        assert [c.reported_cached for c in costs] == [c.cached_tokens for c in costs]
        assert all(0 < c.usd <= c.usd_uncached + 1e-6 for c in costs)  # usd is rounded to 6 places
    # Trimming: the weather page costs far less capped; the tools whose output is already short cost the same.
    assert untrimmed[0].prompt_tokens > 1.5 * on[0].prompt_tokens
    assert [c.prompt_tokens for c in untrimmed[1:]] == [c.prompt_tokens for c in on[1:]]
    with capsys.disabled():
        print()
        report(results)
