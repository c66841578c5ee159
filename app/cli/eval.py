"""`research-team eval QUESTIONS.jsonl` and `research-team eval compare A.json B.json` (app/eval_*.py).

Exit codes: 0 the questions ran (whatever the accuracy), 2 the questions file or a report cannot be read, or the
team's server could not be reached or started.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from app.cli.ask import AskFailed
from app.cli.eval_report import compare_table, document, html_report, load_document, results_table, summary_lines
from app.cli.eval_run import EvalOptions, run_eval
from app.cli.eval_score import QuestionsError, load_questions


def eval_command(
    paths: list[str] = typer.Argument(..., help="QUESTIONS.jsonl, or: compare A.json B.json", show_default=False),
    url: str | None = typer.Option(
        None, "--url", help="Ask this server; by default the team runs in this process, with the server's settings."
    ),
    token: str | None = typer.Option(None, "--token", envvar="RESEARCH_TEAM_TOKEN", help="A user's token (--url)."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=64, help="Questions asked at once."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (accuracy, totals, each result)."),
    html_file: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
) -> None:
    """Measure the team on your questions: accuracy, model calls, tokens, USD, time (p50/p95), stop reasons and
    unverified sources, per question and in total. `eval compare A.json B.json` shows two --json runs side by side."""
    console, errors = Console(), Console(stderr=True)
    if paths[0] == "compare":
        if len(paths) != 3:
            errors.print("usage: research-team eval compare A.json B.json")
            raise typer.Exit(2)
        _compare(console, errors, Path(paths[1]), Path(paths[2]))
        return
    if len(paths) != 1:
        errors.print("usage: research-team eval QUESTIONS.jsonl [options]")
        raise typer.Exit(2)
    try:
        questions = load_questions(Path(paths[0]))[:limit]
    except (OSError, QuestionsError) as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None

    def progress(result: dict[str, Any]) -> None:
        if not as_json:
            mark = "[green]✓[/green]" if result.get("correct") else "[red]✗[/red]"
            console.print(f"{mark} {escape(str(result['id']))} ({result.get('stop_reason')}, {result['duration_s']} s)")

    started = time.monotonic()
    options = EvalOptions(url=url, token=token, concurrency=concurrency)
    try:
        results = asyncio.run(run_eval(questions, options, on_result=progress))
    except AskFailed as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    doc = document(results, questions_file=paths[0], target=url or "in-process", wall_s=time.monotonic() - started)
    if html_file is not None:
        html_file.write_text(html_report(doc), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    console.print(results_table(results))
    for line in summary_lines(doc["summary"]):
        console.print(escape(line))
    if html_file is not None:
        console.print(f"HTML report: {escape(str(html_file))}")


def _compare(console: Console, errors: Console, a: Path, b: Path) -> None:
    try:
        docs = [load_document(p.read_text(encoding="utf-8"), str(p)) for p in (a, b)]
    except (OSError, ValueError) as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    console.print(compare_table(docs[0], docs[1], (a.name, b.name)))
