"""A budget per run: model calls, tokens and (when prices are known) US dollars.

The tracker reads the session's UsageMeter (selector calls included), so what it counts is exactly what the
run reports in `run_finished.usage`. Without a price for every role that spent tokens, USD is unknown and
`max_usd` is not enforced (there is no price table yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.models.metering import MeterUsage, UsageMeter


@dataclass(frozen=True)
class RunBudget:
    """What one run may spend; None means no limit on that measure."""

    max_model_calls: int | None = 30
    max_tokens: int | None = 150_000  # prompt + completion
    max_usd: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"max_model_calls": self.max_model_calls, "max_tokens": self.max_tokens, "max_usd": self.max_usd}


@dataclass(frozen=True)
class TokenPrice:
    """USD per million tokens for one role's model. Cached input (prompt tokens the provider served from its
    prompt cache) has its own price when known; None prices it as input. Reasoning tokens are part of the
    completion tokens and billed as output: they are not priced again."""

    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None

    def usd(self, usage: MeterUsage) -> float:
        """What these tokens cost at this price."""
        cached = min(max(usage.cached_prompt_tokens, 0), usage.prompt_tokens)
        cached_price = (
            self.input_per_million if self.cached_input_per_million is None else self.cached_input_per_million
        )
        return (
            (usage.prompt_tokens - cached) * self.input_per_million
            + cached * cached_price
            + usage.completion_tokens * self.output_per_million
        ) / 1e6


@dataclass
class BudgetTracker:
    """What the current run has spent against its budget."""

    meter: UsageMeter
    budget: RunBudget = field(default_factory=RunBudget)
    prices: Mapping[str, TokenPrice] = field(default_factory=dict)  # role -> price
    _start: MeterUsage = field(default_factory=MeterUsage)
    _start_by_role: dict[str, MeterUsage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.begin(self.budget)

    def begin(self, budget: RunBudget) -> None:
        """A new run: this budget, counters from zero."""
        self.budget = budget
        self._start = self.meter.snapshot()
        self._start_by_role = {role: u.copy() for role, u in self.meter.by_role.items()}

    def resume_from(self, start: MeterUsage, start_by_role: dict[str, MeterUsage]) -> None:
        """A run restored on another worker (agents/session/checkpoint.py): count from where the run started."""
        self._start, self._start_by_role = start, start_by_role

    @property
    def start_by_role(self) -> dict[str, MeterUsage]:
        return self._start_by_role

    def used(self) -> MeterUsage:
        return self.meter.snapshot().minus(self._start)

    def usd(self) -> float | None:
        """Dollars spent this run, or None when a role that spent tokens has no price."""
        total = 0.0
        for role, usage in self.meter.by_role.items():
            spent = usage.minus(self._start_by_role.get(role, MeterUsage()))
            if spent.prompt_tokens == 0 and spent.completion_tokens == 0:
                continue
            price = self.prices.get(role)
            if price is None:
                return None
            total += price.usd(spent)
        return round(total, 6)

    def spent(self) -> dict[str, Any]:
        used = self.used()
        return {
            **used.as_dict(),
            "tokens": used.prompt_tokens + used.completion_tokens,
            "usd": self.usd(),
        }

    def exhausted(self) -> str | None:
        """Which limit the run has reached ("model_calls", "tokens", "usd"), or None."""
        used, budget = self.used(), self.budget
        if budget.max_model_calls is not None and used.model_calls >= budget.max_model_calls:
            return "model_calls"
        if budget.max_tokens is not None and used.prompt_tokens + used.completion_tokens >= budget.max_tokens:
            return "tokens"
        if budget.max_usd is not None:
            usd = self.usd()
            if usd is not None and usd >= budget.max_usd:
                return "usd"
        return None
