"""The voice front's added latency over N spoken questions, both backends side by side, against the fakes:
- Realtime: function call received -> team run started; run finished -> the final-answer response.create sent.
- GPT-Live: delegation received -> team run started; run finished -> the answer's session.commentary.append sent.
Both are pure server overhead (no model time): event creation times are taken where the events are published.
Run: .venv/bin/python -m bench.narrator_latency --runs 200 [--api realtime|live|both]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from agents.events import SessionPayload, TeamMessage  # noqa: E402
from agents.session.checkpoint import Checkpoint  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from tests.fakes.live.fake import LiveFake  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402
from tests.support.live_server import ScriptBook, live_app  # noqa: E402
from tests.support.scripted import paris_script  # noqa: E402
from tests.support.voice.client import SPOKEN_ANSWER, VoiceClient, live_settings, voice_app  # noqa: E402

handed_over: list[float] = []  # function call / delegation received, in order
answer_sent: dict[str, float] = {}  # run_id -> response.create / commentary sent
answer_requested: dict[str, float] = {}  # run_id -> final response queued at the gate (Realtime)
published: dict[tuple[str, str], float] = {}  # (type, run_id) -> when the event was created


def instrument() -> None:
    """Record wall-clock times at the points we measure, without changing behaviour."""
    from app.realtime.live.narrator import LiveNarrator
    from app.realtime.narrator.narrator import Narrator
    from app.realtime.voice_front import VoiceFront
    from app.store.event_log import SessionEventLog

    original_call, original_delegation = Narrator._function_call, LiveNarrator._on_delegation

    def timed_call(self: Any, item: dict[str, Any]) -> None:
        if item.get("name") == "ask_team" and item.get("call_id") not in self._handled_calls:
            handed_over.append(time.time())
        original_call(self, item)

    def timed_delegation(self: Any, event: dict[str, Any]) -> None:
        handed_over.append(time.time())
        original_delegation(self, event)

    Narrator._function_call = timed_call  # type: ignore[method-assign]
    LiveNarrator._on_delegation = timed_delegation  # type: ignore[method-assign]
    original_send = VoiceFront._send

    async def timed_send(self: Any, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.create" and event["response"]["metadata"]["purpose"] == "final_answer":
            answer_sent.setdefault(str(getattr(self, "_active_answer_run", "")), time.time())
        elif kind == "session.commentary.append" and str(event.get("event_id", "")).startswith("evt_answer_"):
            answer_sent.setdefault(str(getattr(self, "_active_answer_run", "")), time.time())
        await original_send(self, event)

    VoiceFront._send = timed_send  # type: ignore[method-assign]
    original_narrate_rt, original_narrate_live = Narrator.narrate, LiveNarrator.narrate

    async def narrate_rt(self: Any, event: Any) -> None:
        if event.type == "run_finished":
            self._active_answer_run = event.run_id
        await original_narrate_rt(self, event)

    async def narrate_live(self: Any, event: Any) -> None:
        if event.type == "run_finished":
            self._active_answer_run = event.run_id
        await original_narrate_live(self, event)

    Narrator.narrate, LiveNarrator.narrate = narrate_rt, narrate_live  # type: ignore[method-assign]
    from app.realtime.narrator.responses import ResponseGate

    original_request = ResponseGate.request

    async def timed_request(self: Any, request: Any) -> None:
        if request.purpose == "final_answer" and request.run_id:
            answer_requested.setdefault(request.run_id, time.time())
        await original_request(self, request)

    ResponseGate.request = timed_request  # type: ignore[method-assign]
    original_publish = SessionEventLog.publish

    def timed_publish(
        self: SessionEventLog, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None
    ) -> asyncio.Future[None]:
        kind = payload.type if isinstance(payload, TeamMessage) else payload.event_type
        if kind in ("run_started", "run_finished") and run_id:
            published.setdefault((kind, run_id), time.time())
        return original_publish(self, payload, run_id, checkpoint=checkpoint)

    SessionEventLog.publish = timed_publish  # type: ignore[method-assign]


def spoken_at_least(count: int) -> Callable[[LiveFake], bool]:
    return lambda live: len(live.spoken_text()) >= count


async def one_backend(api: str, runs: int) -> dict[str, Any]:
    handed_over.clear()
    answer_sent.clear()
    answer_requested.clear()
    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        book = ScriptBook(lambda: paris_script())
        voice_settings = live_settings() if api == "live" else None
        async with live_app(voice_app(Path(tmp), fake, book, voice=voice_settings)) as server:
            started = time.perf_counter()
            run_ids: list[str] = []
            spoken = 0
            for n in range(runs):
                if n % 50 == 0:
                    print(f"  {api}: question {n}", flush=True)
                # A new voice connection and team session per question: the scripted models re-read the whole
                # conversation on every call, so one long session would measure them, not the narrator.
                voice = VoiceClient(await websockets.connect(server.ws_url + "/ws/voice", max_size=None))
                await voice.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
                if api == "live":
                    await fake.live.asay(f"What's the weather in Paris? ({n})")
                else:
                    await fake.realtime.aspeak_user(f"What's the weather in Paris? ({n})")
                finished = await voice.until(
                    lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished", timeout=30
                )
                if api == "live":
                    await fake.live.until(spoken_at_least(n + 1), timeout=30)
                    spoken += SPOKEN_ANSWER in fake.live.spoken_text()[-1]
                else:
                    await fake.realtime.until(
                        lambda rt: any(SPOKEN_ANSWER in t for t in rt.spoken(rt.sessions)), timeout=30
                    )
                    spoken += 1
                run_ids.append(finished["event"]["run_id"])
                await voice.close()
            elapsed = time.perf_counter() - started
            to_start = [(published[("run_started", r)] - h) * 1000 for r, h in zip(run_ids, handed_over, strict=True)]
            to_answer = [(answer_sent[r] - published[("run_finished", r)]) * 1000 for r in run_ids]
            to_request = [
                (answer_requested.get(r, answer_sent[r]) - published[("run_finished", r)]) * 1000 for r in run_ids
            ]
            rejected = len(fake.live.rejected) if api == "live" else len(fake.realtime.rejected)
            return {
                "api": api,
                "elapsed": elapsed,
                "spoken": spoken,
                "to_start": percentiles(to_start),
                "to_answer": percentiles(to_answer),
                "to_request": percentiles(to_request),
                "rejected": rejected,
                "problems": len(fake.problems()),
            }


async def main(runs: int, apis: list[str]) -> None:
    instrument()
    results = [await one_backend(api, runs) for api in apis]
    print()
    for r in results:
        handover = "delegation" if r["api"] == "live" else "function call"
        answer = "commentary.append" if r["api"] == "live" else "response.create"
        print(f"[{r['api']}] {runs} spoken questions in {r['elapsed']:.1f} s, answers spoken {r['spoken']}/{runs}")
        print(f"  {handover} -> run started        {r['to_start']}")
        if r["api"] == "realtime":
            print(f"  run finished -> answer queued at the gate  {r['to_request']}")
        print(f"  run finished -> {answer} sent  {r['to_answer']}")
        print(f"  rejected client events {r['rejected']}, fake problems {r['problems']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--api", choices=["realtime", "live", "both"], default="both")
    args = parser.parse_args()
    asyncio.run(main(args.runs, ["realtime", "live"] if args.api == "both" else [args.api]))
