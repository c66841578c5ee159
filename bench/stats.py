"""Latency percentiles as the benches print them."""

from __future__ import annotations

import statistics


def percentiles(values_ms: list[float]) -> str:
    """ "p50 … ms   p99 … ms   max … ms   (n=…)", interpolated within the data (p99 never above the max)."""
    if len(values_ms) < 2:
        return f"n/a (n={len(values_ms)})"
    q = statistics.quantiles(values_ms, n=100, method="inclusive")
    return f"p50 {q[49]:.2f} ms   p99 {q[98]:.2f} ms   max {max(values_ms):.2f} ms   (n={len(values_ms)})"
