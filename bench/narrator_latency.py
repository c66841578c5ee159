"""The narrator's added latency, against the fake Realtime server, over N spoken questions:
- function call received -> team run started (the run_started event is created);
- run_finished created -> the final-answer response.create sent to the Realtime API.
Both are pure server overhead (no model time). Run: .venv/bin/python -m bench.narrator_latency --runs 200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

import app.realtime.narrator as narrator_module  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402
from tests.live_server import ScriptBook, live_app  # noqa: E402
from tests.scripted import paris_script  # noqa: E402
from tests.voice_client import VoiceClient, voice_app  # noqa: E402

call_received: dict[str, float] = {}
final_requested: dict[str, float] = {}
final_sent: dict[str, float] = {}
published: dict[
    tuple[str, str], float
] = {}  # (type, run_id) -> when the event was created (envelope ms are too coarse)


def instrument() -> None:
    """Record wall-clock times at the two points we measure, without changing behaviour."""
    Narrator = narrator_module.Narrator
    original_call, original_send = Narrator._function_call, Narrator._send

    async def timed_call(self, item):  # type: ignore[no-untyped-def]
        call_received.setdefault(item.get("call_id", ""), time.time())
        await original_call(self, item)

    async def timed_send(self, event):  # type: ignore[no-untyped-def]
        if event.get("type") == "response.create" and event["response"]["metadata"]["purpose"] == "final_answer":
            final_sent.setdefault(event["response"]["metadata"]["key"], time.time())
        await original_send(self, event)

    Narrator._function_call, Narrator._send = timed_call, timed_send

    from app.event_log import SessionEventLog

    original_publish = SessionEventLog.publish

    def timed_publish(self, *, type, source, data, run_id):  # type: ignore[no-untyped-def]
        if type in ("run_started", "run_finished"):
            published.setdefault((type, run_id), time.time())
        return original_publish(self, type=type, source=source, data=data, run_id=run_id)

    SessionEventLog.publish = timed_publish  # type: ignore[method-assign]

    from app.realtime.responses import ResponseGate

    original_request = ResponseGate.request

    async def timed_request(self, request):  # type: ignore[no-untyped-def]
        if request.purpose == "final_answer":
            final_requested.setdefault(request.key, time.time())
        await original_request(self, request)

    ResponseGate.request = timed_request  # type: ignore[method-assign]


async def main(runs: int) -> None:
    instrument()
    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        book = ScriptBook(lambda: paris_script(runs=runs))
        async with live_app(voice_app(Path(tmp), fake, book)) as server:
            started = time.perf_counter()
            run_ids: list[str] = []
            call_ids: list[str] = []
            spoken_answers = 0
            for n in range(runs):
                if n % 50 == 0:
                    print(f"  run {n}", flush=True)
                # A new voice connection and team session per question: the scripted models re-read the whole
                # conversation on every call, so one long session would measure them, not the narrator.
                voice = VoiceClient(await websockets.connect(server.ws_url + "/ws/voice", max_size=None))
                await voice.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
                await fake.realtime.aspeak_user(f"What's the weather in Paris? ({n})")
                finished = await voice.until(
                    lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished", timeout=30
                )
                await fake.realtime.until(
                    lambda rt: any("The current weather in Paris" in t for t in rt.spoken(rt.sessions)), timeout=30
                )
                spoken_answers += 1
                run_ids.append(finished["event"]["run_id"])
                outputs = [
                    e
                    for e in fake.realtime.client_events_of("conversation.item.create", session=fake.realtime.sessions)
                    if e["item"]["type"] == "function_call_output"
                ]
                call_ids.append(outputs[0]["item"]["call_id"])
                await voice.close()
            elapsed = time.perf_counter() - started
            to_start = [(published[("run_started", r)] - call_received[c]) * 1000 for r, c in zip(run_ids, call_ids)]
            keys = sorted(final_requested, key=final_requested.get)  # type: ignore[arg-type]
            finished_at = [published[("run_finished", r)] for r in run_ids]
            to_request = [(final_requested[k] - f) * 1000 for k, f in zip(keys, finished_at, strict=True)]
            to_create = [(final_sent[k] - f) * 1000 for k, f in zip(keys, finished_at, strict=True)]
            print(f"spoken questions         {runs} in {elapsed:.1f} s, answers spoken {spoken_answers}/{runs}")
            print(f"function call -> run started              {percentiles(to_start)}")
            print(f"run_finished -> final response requested  {percentiles(to_request)}")
            print(f"run_finished -> response.create sent      {percentiles(to_create)}")
            print("  (the last includes waiting for a response already in flight, e.g. the spoken acknowledgement)")
            print(
                f"rejected client events {len(fake.realtime.rejected)}, protocol violations "
                f"{len(fake.realtime.violations)}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args().runs))
