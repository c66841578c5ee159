"""`research-team eval`: what a run of the questions shows: the totals, a table per question, one JSON document,
a self-contained HTML report (inline SVG chart, no script, no external file) and two runs side by side."""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

SCHEMA = "research-team-eval/1"


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    durations = [float(r.get("duration_s") or 0) for r in results]
    usd = [r["usd"] for r in results if isinstance(r.get("usd"), int | float)]
    correct = sum(1 for r in results if r.get("correct"))
    return {
        "questions": len(results),
        "correct": correct,
        "accuracy": round(correct / len(results), 4) if results else 0.0,
        "model_calls": sum(int(r.get("model_calls") or 0) for r in results),
        "prompt_tokens": sum(int(r.get("prompt_tokens") or 0) for r in results),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in results),
        "tokens": sum(int(r.get("tokens") or 0) for r in results),
        "usd": round(sum(usd), 6) if usd else None,
        "time_s": {
            "p50": percentile(durations, 50),
            "p95": percentile(durations, 95),
            "total": round(sum(durations), 3),
        },
        "stop_reasons": dict(Counter(str(r.get("stop_reason")) for r in results)),
        "unverified_sources": sum(int(r.get("unverified_sources") or 0) for r in results),
        "sources": sum(len(r.get("sources") or []) for r in results),
        "errors": sum(1 for r in results if r.get("stop_reason") == "error"),
    }


def document(results: Sequence[dict[str, Any]], *, questions_file: str, target: str, wall_s: float) -> dict[str, Any]:
    """The --json document (also what `compare` reads)."""
    summary = summarize(results)
    return {
        "schema": SCHEMA,
        "questions_file": questions_file,
        "target": target,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 3),
        "accuracy": summary["accuracy"],
        "summary": summary,
        "results": list(results),
    }


def _usd(value: Any) -> str:
    return f"${value:.4f}" if isinstance(value, int | float) else "–"


def _s(value: Any) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) else "–"


def results_table(results: Sequence[dict[str, Any]]) -> Table:
    table = Table("id", "ok", "answer", "expected", "stop", "calls", "tokens", "USD", "time", "unverified")
    for r in results:
        answer = " ".join(str(r.get("answer") or r.get("error") or "").split())
        table.add_row(
            str(r["id"]),
            "[green]✓[/green]" if r.get("correct") else "[red]✗[/red]",
            html.escape(answer[:60] + ("…" if len(answer) > 60 else ""), quote=False).replace("[", "\\["),
            str(r.get("expected", "")).replace("[", "\\["),
            str(r.get("stop_reason")),
            str(r.get("model_calls", 0)),
            str(r.get("tokens", 0)),
            _usd(r.get("usd")),
            _s(r.get("duration_s")),
            "–" if r.get("unverified_sources") is None else str(r["unverified_sources"]),
        )
    return table


def summary_lines(summary: dict[str, Any]) -> list[str]:
    time_s = summary["time_s"]
    stops = ", ".join(f"{k} {v}" for k, v in sorted(summary["stop_reasons"].items()))
    return [
        f"accuracy {summary['accuracy']:.1%} ({summary['correct']}/{summary['questions']})",
        f"model calls {summary['model_calls']} · tokens {summary['tokens']:,} · USD {_usd(summary['usd'])}",
        f"time p50 {_s(time_s['p50'])} · p95 {_s(time_s['p95'])}",
        f"stop reasons: {stops}",
        f"unverified sources {summary['unverified_sources']} of {summary['sources']}",
    ]


def compare_table(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> Table:
    """Totals, then the questions whose outcome differs (by id)."""
    table = Table("", names[0], names[1], "change")
    sa, sb = a["summary"], b["summary"]
    rows: list[tuple[str, Any, Any]] = [
        ("accuracy", sa["accuracy"], sb["accuracy"]),
        ("correct", sa["correct"], sb["correct"]),
        ("questions", sa["questions"], sb["questions"]),
        ("model calls", sa["model_calls"], sb["model_calls"]),
        ("tokens", sa["tokens"], sb["tokens"]),
        ("USD", sa["usd"], sb["usd"]),
        ("time p50 (s)", sa["time_s"]["p50"], sb["time_s"]["p50"]),
        ("time p95 (s)", sa["time_s"]["p95"], sb["time_s"]["p95"]),
        ("unverified sources", sa["unverified_sources"], sb["unverified_sources"]),
    ]
    for label, x, y in rows:
        change = f"{y - x:+.4g}" if isinstance(x, int | float) and isinstance(y, int | float) else ""
        table.add_row(label, _num(x), _num(y), change)
    by_id = {r["id"]: r for r in b["results"]}
    for r in a["results"]:
        other = by_id.get(r["id"])
        if other is not None and bool(other.get("correct")) != bool(r.get("correct")):
            mark = "[green]fixed[/green]" if other.get("correct") else "[red]broken[/red]"
            table.add_row(f"question {r['id']}", _ok(r), _ok(other), mark)
    return table


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _ok(result: dict[str, Any]) -> str:
    return "✓" if result.get("correct") else "✗"


def html_report(doc: dict[str, Any]) -> str:
    """One self-contained page: the totals, a chart (time per question, coloured by outcome) and the table."""
    summary, results = doc["summary"], doc["results"]
    e = html.escape
    cards = "".join(f"<li>{e(line)}</li>" for line in summary_lines(summary))
    rows = "".join(
        "<tr class='{cls}'><td>{id}</td><td>{ok}</td><td>{answer}</td><td>{expected}</td><td>{match}</td>"
        "<td>{stop}</td><td>{calls}</td><td>{tokens}</td><td>{usd}</td><td>{time}</td><td>{unv}</td></tr>".format(
            cls="ok" if r.get("correct") else "bad",
            id=e(str(r["id"])),
            ok="✓" if r.get("correct") else "✗",
            answer=e(str(r.get("answer") or r.get("error") or ""))[:400],
            expected=e(str(r.get("expected", ""))),
            match=e(str(r.get("scored_by") or r.get("match") or "")),
            stop=e(str(r.get("stop_reason"))),
            calls=r.get("model_calls", 0),
            tokens=f"{int(r.get('tokens') or 0):,}",
            usd=e(_usd(r.get("usd"))),
            time=e(_s(r.get("duration_s"))),
            unv="–" if r.get("unverified_sources") is None else r["unverified_sources"],
        )
        for r in results
    )
    return HTML.format(
        title=e(f"Eval: {doc.get('questions_file', '')}"),
        meta=e(f"{doc.get('target', '')} · {doc.get('finished_at', '')} · {summary['questions']} questions"),
        accuracy=f"{summary['accuracy']:.0%}",
        cards=cards,
        chart=_chart(results),
        rows=rows,
    )


def _chart(results: Sequence[dict[str, Any]]) -> str:
    """Horizontal bars: each question's time, green when correct, red when not; its model calls at the end."""
    bar_h, gap, label_w, width = 22, 6, 150, 560
    longest = max([float(r.get("duration_s") or 0) for r in results] + [0.001])
    height = len(results) * (bar_h + gap) + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + width + 120}' height='{height}' role='img'>"]
    parts.append(f"<title>Time per question (s), coloured by outcome; {len(results)} questions</title>")
    for i, r in enumerate(results):
        y = i * (bar_h + gap)
        seconds = float(r.get("duration_s") or 0)
        w = max(2.0, seconds / longest * width)
        colour = "#15803d" if r.get("correct") else "#c62828"
        name = html.escape(str(r["id"])[:22])
        parts.append(f"<text x='{label_w - 8}' y='{y + 15}' text-anchor='end' class='lbl'>{name}</text>")
        parts.append(f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' rx='4' fill='{colour}'/>")
        parts.append(
            f"<text x='{label_w + w + 6:.1f}' y='{y + 15}' class='val'>{seconds:.1f} s · "
            f"{int(r.get('model_calls') or 0)} calls</text>"
        )
    axis_y = len(results) * (bar_h + gap) + 16
    parts.append(f"<text x='{label_w}' y='{axis_y}' class='val'>0 s</text>")
    parts.append(f"<text x='{label_w + width}' y='{axis_y}' text-anchor='end' class='val'>{longest:.1f} s</text>")
    parts.append("</svg>")
    return "".join(parts)


HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2430; background: #fafafa; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} .meta {{ color: #586170; margin: 0 0 16px; }}
.top {{ display: flex; gap: 24px; align-items: center; margin-bottom: 16px; }}
.big {{ font-size: 44px; font-weight: 700; color: #4338ca; }} .top ul {{ margin: 0; padding-left: 18px; }}
section {{ background: #fff; border: 1px solid #e2e4ea; border-radius: 10px; padding: 14px 16px; margin-bottom: 16px; }}
h2 {{ font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: #586170; margin: 0 0 10px; }}
svg .lbl {{ font-size: 12px; fill: #1f2430; }} svg .val {{ font-size: 11.5px; fill: #586170; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ text-align: left; padding: 5px 8px; border-bottom: 1px solid #eceef2; vertical-align: top; }}
th {{ color: #586170; font-weight: 600; }} tr.ok td:nth-child(2) {{ color: #15803d; }}
tr.bad td:nth-child(2) {{ color: #c62828; font-weight: 700; }} td:nth-child(3) {{ max-width: 420px; }}
</style></head><body>
<h1>{title}</h1><p class="meta">{meta}</p>
<div class="top"><div class="big">{accuracy}</div><ul>{cards}</ul></div>
<section><h2>Time per question (green: correct, red: not)</h2>{chart}</section>
<section><h2>Questions</h2><table><thead><tr><th>id</th><th></th><th>answer</th><th>expected</th><th>scored by</th>
<th>stop</th><th>calls</th><th>tokens</th><th>USD</th><th>time</th><th>unverified</th></tr></thead>
<tbody>{rows}</tbody></table></section>
</body></html>
"""


def load_document(text: str, name: str) -> dict[str, Any]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"{name} is not a `research-team eval --json` document")
    return doc
