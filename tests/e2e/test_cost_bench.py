"""The cost bench (bench/cost.py) as a test: the team before and after issue 17 has the same conversations at
the same number of model calls; the deterministic selector saves exactly the selector's calls; lean contexts
cost less where history exists (a follow-up, a longer task); trimming cuts the long page's cost. Prints the
bench's tables."""

from __future__ import annotations

import re

import pytest

from bench.cost import measure, report
from bench.cost_tasks import tasks, worker_replies


def without_port(answer: str) -> str:
    """Each configuration has its own fixture server, so cited URLs differ in the port only."""
    return re.sub(r"127\.0\.0\.1:\d+", "fixtures", answer)


async def test_before_and_after_costs(capsys: pytest.CaptureFixture[str]) -> None:
    results = await measure()
    chosen = tasks("")
    turns = [sum(len(worker_replies(r, restates=True)) for r in t.replies.values()) for t in chosen]
    unrestated = [sum(len(worker_replies(r, restates=False)) for r in t.replies.values()) for t in chosen]
    five = [i for i, t in enumerate(chosen) if not t.extra]
    before_on, before_off = results["before, selector on"], results["before, selector off"]
    after_on, after_off, untrimmed = (
        results["after, selector on"],
        results["after, selector off"],
        results["after, untrimmed"],
    )
    # Selector on: one model call per scripted reply, none for routing, before and after alike.
    # After issue 28, the turns that only restated a tool result are not asked (bench/cost_tasks.Restating).
    assert [c.calls for c in before_on] == turns and [c.calls for c in after_on] == unrestated
    assert sum(after_on[i].calls for i in five) <= 17 < sum(before_on[i].calls for i in five)
    # Selector off: the same conversation (same answers), plus one selector call per speaker turn.
    for on, off in ((before_on, before_off), (after_on, after_off)):
        assert [without_port(c.answer) for c in off] == [without_port(c.answer) for c in on]
        assert all(b.calls > a.calls and b.prompt_tokens > a.prompt_tokens for a, b in zip(on, off, strict=True))
    # After: the answer is finish()'s, the same words without the "Source: ..." the text convention carried.
    for before, after in zip(before_on, after_on, strict=True):
        assert without_port(before.answer).startswith(without_port(after.answer).rstrip("."))
    # Lean contexts pay where there is history to leave out: the follow-up and the longer task.
    for name in ("follow-up", "longer (3 steps)"):
        i = [t.name for t in chosen].index(name)
        assert after_on[i].prompt_tokens < before_on[i].prompt_tokens, name
    # Cacheable prefixes are measured, and are a part of the prompt.
    assert all(0 < c.prefix_tokens < c.prompt_tokens for c in after_on)
    # Issue 21: the five tasks cost at most 10,600 prompt tokens (11,855 before the shorter tool definitions),
    # and tool definitions are no longer most of them.
    five_on = [after_on[i] for i in five]
    assert sum(c.prompt_tokens for c in five_on) <= 10_600
    assert sum(c.tool_definitions for c in five_on) <= 0.52 * sum(c.prompt_tokens for c in five_on)
    # The cached tokens run_finished reports are the ones the (fake) API served, call by call; cached input
    # is never dearer than input.
    for costs in results.values():
        assert [c.reported_cached for c in costs] == [c.cached_tokens for c in costs]
        assert all(0 < c.usd <= c.usd_uncached + 1e-6 for c in costs)  # usd is rounded to 6 places
    # Trimming: the weather page costs far less capped; the tools whose output is already short cost the same.
    assert untrimmed[0].prompt_tokens > 1.5 * after_on[0].prompt_tokens
    assert [c.prompt_tokens for c in untrimmed[1:]] == [c.prompt_tokens for c in after_on[1:]]
    with capsys.disabled():
        print()
        report(results)
