"""`research-team runs` and `runs show ID`: the caller's runs, read over the REST API (`GET /runs`,
`/runs/{id}`, `/runs/{id}/events`), shown with full ids, cost, and for one run its answer, sources and steps."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli.ask import CONNECT_TIMEOUT_S, AskFailed
from app.core.steps import describe_step

EVENTS_PAGE = 1000


async def _get(base_url: str, token: str | None, path: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=CONNECT_TIMEOUT_S) as http:
        try:
            response = await http.get(path, params=params)
        except httpx.TransportError as exc:
            raise AskFailed(f"Cannot reach the server at {base_url}: {exc}.") from None
    if response.status_code == 404:
        raise AskFailed("No such run (or it is not yours).")
    if response.status_code != 200:
        raise AskFailed(f"The server answered HTTP {response.status_code}: {response.text[:200]}")
    return response.json()


async def fetch_runs(base_url: str, token: str | None, limit: int) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = (await _get(base_url, token, "/runs", limit=limit))["runs"]
    return runs


async def fetch_run(base_url: str, token: str | None, run_id: str) -> dict[str, Any]:
    """The run and its stored events, in order."""
    run: dict[str, Any] = await _get(base_url, token, f"/runs/{run_id}")
    events: list[dict[str, Any]] = []
    while True:
        page = (await _get(base_url, token, f"/runs/{run_id}/events", after=_last_seq(events), limit=EVENTS_PAGE))[
            "events"
        ]
        events.extend(page)
        if len(page) < EVENTS_PAGE:
            break
    return {**run, "events": events}


def _last_seq(events: list[dict[str, Any]]) -> int:
    return int(events[-1]["seq"]) if events else 0


def usd(run: dict[str, Any]) -> str:
    spent = run.get("spent") or {}
    value = spent.get("usd")
    return f"${value:.4f}" if isinstance(value, int | float) else "unknown"


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """Full run ids (never cut: they are what `runs show` takes) and each run's cost."""
    table = Table("run", "when", "status", "task", "calls", "tokens", "cost")
    table.columns[0].no_wrap = True
    table.columns[0].min_width = 20
    for run in runs:
        usage = run.get("usage") or {}
        tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        task = str(run.get("task", ""))
        table.add_row(
            run["run_id"],
            str(run.get("created_at", ""))[:19].replace("T", " "),
            str(run.get("stop_reason") or run.get("status")),
            escape(task if len(task) <= 50 else task[:49] + "…"),
            str(usage.get("model_calls", "")),
            str(tokens or ""),
            usd(run) if run.get("spent") else "",
        )
    return table


def print_run(console: Console, run: dict[str, Any]) -> None:
    """One run: the question, its steps in words, the answer, its sources (read or not) and what it cost."""
    console.rule(f"{run['run_id']} · {run.get('stop_reason') or run.get('status')}")
    console.print(f"[bold]Question[/bold] {escape(str(run.get('task', '')))}")
    steps = [line for line in (describe_step(event) for event in run.get("events", [])) if line]
    if steps:
        console.print("\n[bold]Steps[/bold]")
        for line in steps:
            console.print(f"  • {escape(line)}", highlight=False)
    finished: dict[str, Any] = next(
        (e["data"] for e in reversed(run.get("events", [])) if e.get("type") == "run_finished"), {}
    )
    console.print("\n[bold]Answer[/bold]")
    console.print(escape(str(run.get("final_answer") or finished.get("error") or "(none)")))
    entries = finished.get("source_entries") or [{"url": s} for s in finished.get("sources") or []]
    if entries:
        console.print("\n[bold]Sources[/bold]")
        for number, entry in enumerate(entries, 1):
            mark = "" if entry.get("verified", True) else " [red](unverified: no tool of the run returned it)[/red]"
            console.print(f"  [{number}] {escape(str(entry.get('url')))}{mark}", highlight=False)
    usage = run.get("usage") or {}
    tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    console.print(
        f"\n[dim]{run.get('created_at', '')} · {run.get('duration_s')} s · {usage.get('model_calls', 0)} model calls "
        f"· {tokens} tokens · {usd(run)}[/dim]"
    )
