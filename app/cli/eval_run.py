"""`research-team eval`: running the questions through the team and scoring each answer.

Each question is one fresh session on /ws/team (app/cli/ask.py's client), at most `concurrency` at once,
against a server (`--url`) or in this process: the app exactly as `serve` builds it (create_app with the same
Settings from the environment and .env, the real tools), under uvicorn on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from app.cli.ask import AskFailed, ask
from app.cli.eval_score import Question, judge, score
from app.cli.local_server import ServerDidNotStart, local_server
from app.core.settings import Settings


@dataclass
class EvalOptions:
    url: str | None = None
    token: str | None = None
    concurrency: int = 2
    settings: Settings | None = None


async def run_eval(
    questions: list[Question], options: EvalOptions, on_result: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """One result per question, in the file's order."""
    settings = options.settings or Settings()
    async with _server(options, settings) as base_url:
        gate = asyncio.Semaphore(max(1, options.concurrency))

        async def one(question: Question) -> dict[str, Any]:
            async with gate:
                result = await ask_one(base_url, options.token, question, settings)
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(q) for q in questions)))


async def ask_one(base_url: str, token: str | None, question: Question, settings: Settings) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"id": question.id, "question": question.question, "expected": question.answer}
    result["match"] = question.match
    try:
        asked = await ask(base_url, token, question.question)
    except AskFailed as exc:
        return {**result, **_empty(), "error": str(exc), "duration_s": round(time.monotonic() - started, 3)}
    data = asked.finished
    answer = str(data.get("final_answer") or "")
    usage, spent = data.get("usage") or {}, data.get("spent") or {}
    entries = data.get("source_entries")
    sources = [str(s) for s in data.get("sources") or []]
    unverified = None if entries is None else sum(1 for e in entries if not e.get("verified"))
    result.update(
        run_id=asked.run_id,
        answer=answer,
        stop_reason=data.get("stop_reason"),
        complete=bool(data.get("complete")),
        model_calls=int(usage.get("model_calls") or 0),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        tokens=int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0),
        usd=spent.get("usd") if isinstance(spent.get("usd"), int | float) else None,
        duration_s=float(data.get("duration_s") or round(time.monotonic() - started, 3)),
        sources=sources,
        unverified_sources=unverified,
        error=data.get("error"),
    )
    result["correct"], result["scored_by"], result["verdict"] = await _score(question, answer, settings)
    return result


async def _score(question: Question, answer: str, settings: Settings) -> tuple[bool, str, str | None]:
    if question.match != "judge":
        return score(answer, question.answer, question.match), question.match, None
    if not settings.eval_judge_model:
        return score(answer, question.answer, "contains"), "contains (no EVAL_JUDGE_MODEL)", None
    if not answer.strip():
        return False, "judge", "no answer"
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    try:
        correct, verdict = await judge(
            question, answer, model=settings.eval_judge_model, api_key=key, base_url=settings.openai_base_url
        )
    except Exception as exc:  # noqa: BLE001 - a failing judge scores this question, it does not end the eval
        return False, "judge", f"judge failed: {type(exc).__name__}: {exc}"[:200]
    return correct, f"judge ({settings.eval_judge_model})", verdict


def _empty() -> dict[str, Any]:
    return {
        "run_id": None, "answer": "", "stop_reason": "error", "complete": False, "model_calls": 0,
        "prompt_tokens": 0, "completion_tokens": 0, "tokens": 0, "usd": None, "sources": [],
        "unverified_sources": None, "correct": False, "scored_by": None, "verdict": None,
    }  # fmt: skip


@contextlib.asynccontextmanager
async def _server(options: EvalOptions, settings: Settings) -> AsyncIterator[str]:
    """The base URL to ask: --url, or the app started here (app/cli/local_server.py)."""
    if options.url:
        yield options.url.rstrip("/")
        return
    try:
        async with local_server(settings) as url:
            yield url
    except ServerDidNotStart as exc:
        raise AskFailed(str(exc)) from None
