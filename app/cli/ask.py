"""`research-team ask` and `runs`: a terminal client of a running server (/ws/team and /runs), with the same
tokens as the page. The live view prints one line per team step (app/core/steps.py), then the answer and its sources.

Exit codes of `ask`: 0 answered, 1 the run ended without a complete answer, 2 the server could not take the
question (unreachable, refused token, no model configured).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import websockets
from rich.console import Console
from rich.markup import escape

from app.core.steps import describe_step

CONNECT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 900.0  # no event at all for this long: give up (a run's own timeout is 600 s by default)


class AskFailed(Exception):
    """The question could not be asked (exit code 2)."""


@dataclass
class AskResult:
    run_id: str | None = None
    finished: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.finished.get("complete"))

    def as_json(self) -> dict[str, Any]:
        data = self.finished
        return {
            "run_id": self.run_id,
            "answer": data.get("final_answer", ""),
            "sources": data.get("sources", []),
            "complete": self.complete,
            "stop_reason": data.get("stop_reason"),
            "error": data.get("error"),
            "usage": data.get("usage"),
            "spent": data.get("spent"),
            "duration_s": data.get("duration_s"),
        }


def ws_url(base: str, path: str, token: str | None) -> str:
    parts = urlsplit(base.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    query = f"token={quote(token, safe='')}" if token else ""
    return urlunsplit((scheme, parts.netloc, parts.path + path, query, ""))


async def ask(base_url: str, token: str | None, question: str, on_step: Any = None) -> AskResult:
    """Ask the team over /ws/team; calls on_step(line) per step; returns when the run is finished."""
    result = AskResult()
    try:
        connection = await asyncio.wait_for(
            websockets.connect(ws_url(base_url, "/ws/team", token), max_size=None), CONNECT_TIMEOUT_S
        )
    except websockets.InvalidStatus as exc:
        raise AskFailed(f"The server refused the connection (HTTP {exc.response.status_code}).") from None
    except (OSError, TimeoutError) as exc:
        raise AskFailed(f"Cannot reach the server at {base_url}: {exc or type(exc).__name__}.") from None
    async with connection:
        sent = False
        while True:
            try:
                raw = await asyncio.wait_for(connection.recv(), IDLE_TIMEOUT_S)
            except websockets.ConnectionClosed as exc:
                raise AskFailed(f"The server closed the connection: {exc.rcvd.reason if exc.rcvd else exc}") from None
            event = json.loads(raw)
            data = event.get("data") or {}
            kind = event.get("type")
            if not sent and kind == "system" and data.get("event") == "connected":
                await connection.send(json.dumps({"type": "task", "text": question}))
                sent = True
                continue
            if kind == "error" and result.run_id is None:
                raise AskFailed(str(data.get("message") or data))
            if kind == "run_started" and result.run_id is None:
                result.run_id = event.get("run_id")
            if result.run_id is None or event.get("run_id") != result.run_id:
                continue
            if kind == "run_finished":
                result.finished = data
                return result
            line = describe_step(event)
            if line is not None:
                result.steps.append(line)
                if on_step is not None:
                    on_step(line)


def print_answer(console: Console, result: AskResult) -> None:
    data = result.finished
    console.rule("Answer" if result.complete else f"No complete answer ({data.get('stop_reason')})")
    console.print(escape(data.get("final_answer") or data.get("error") or "(empty)"))
    sources = data.get("sources") or []
    if sources:
        console.print("\n[bold]Sources[/bold]")
        for number, source in enumerate(sources, 1):
            console.print(f"  [{number}] {escape(source)}", highlight=False)
    usage = data.get("usage") or {}
    spent = data.get("spent") or {}
    cost = f", ${spent['usd']:.4f}" if isinstance(spent.get("usd"), int | float) else ""
    console.print(
        f"\n[dim]{result.run_id} · {data.get('duration_s')} s · {usage.get('model_calls', 0)} model calls · "
        f"{usage.get('prompt_tokens', 0) + usage.get('completion_tokens', 0)} tokens{cost}[/dim]"
    )
