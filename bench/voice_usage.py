"""What metering a voice session costs the server (issue 16): CPU per event of the voice meter and turn spans
(app/realtime/voice_usage.py, voice_spans.py), for the events a relay session carries most (100 ms audio
frames both ways) and a turn's response.done, with spans going to an in-memory exporter. Prints figures.

    .venv/bin/python -m bench.voice_usage [--frames 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core import telemetry
from app.core.prices import default_voice_prices
from app.realtime.voice_spans import VoiceTurns
from app.realtime.voice_usage import VoiceUsage

FRAME_MS = 100
USAGE = {
    "total_tokens": 1200,
    "input_tokens": 1000,
    "output_tokens": 200,
    "input_token_details": {
        "text_tokens": 600,
        "audio_tokens": 400,
        "image_tokens": 0,
        "cached_tokens": 300,
        "cached_tokens_details": {"text_tokens": 300, "audio_tokens": 0, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 40, "audio_tokens": 160},
}


def turn_events(n: int) -> list[tuple[str, dict[str, Any]]]:
    """One spoken turn: speech, commit, a response with a function call, its response.done."""
    rid = f"resp_{n}"
    return [
        ("received", {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "i"}),
        ("received", {"type": "input_audio_buffer.committed", "item_id": "i"}),
        ("received", {"type": "response.created", "response": {"id": rid}}),
        (
            "received",
            {
                "type": "response.done",
                "response": {"id": rid, "output": [{"type": "function_call", "name": "ask_team"}], "usage": USAGE},
            },
        ),
    ]


async def measure(frames: int) -> None:
    told: list[dict[str, Any]] = []
    usage = VoiceUsage(
        backend="realtime", session_id="s", notify=told.append, price=default_voice_prices()["gpt-realtime"]
    )
    turns = VoiceTurns(usage)
    audio = base64.b64encode(b"\x01\x00" * (24 * FRAME_MS)).decode()
    mic = {"type": "input_audio_buffer.append", "audio": audio}
    speech = {"type": "response.output_audio.delta", "delta": audio, "item_id": "o"}

    start = time.process_time()
    for _ in range(frames):
        usage.sent(mic)
        turns.sent(mic)
        usage.received(speech)
        turns.received(speech)
    audio_cpu = time.process_time() - start
    await asyncio.sleep(0)

    n_turns = max(1, frames // 50)
    start = time.process_time()
    for n in range(n_turns):
        for direction, event in turn_events(n):
            (usage.sent if direction == "sent" else usage.received)(event)
            (turns.sent if direction == "sent" else turns.received)(event)
    turn_cpu = time.process_time() - start
    usage.close()
    turns.end()

    seconds_of_audio = frames * FRAME_MS / 1000 * 2  # both directions
    print(f"audio frames metered: {2 * frames:,} (100 ms each, both ways: {seconds_of_audio:,.0f} s of audio)")
    print(f"  CPU per audio frame: {audio_cpu / (2 * frames) * 1e6:.2f} µs")
    print(f"  CPU per second of audio: {audio_cpu / seconds_of_audio * 1e3:.3f} ms")
    print(f"turns metered: {n_turns:,} (4 events and one voice.turn span each)")
    print(f"  CPU per turn: {turn_cpu / n_turns * 1e6:.1f} µs")
    print(f"voice.usage messages told: {len(told)} (throttled: at most one per {usage.every_s:g} s)")
    print(f"session: {usage.snapshot()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20_000)
    args = parser.parse_args()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer_provider(provider)
    asyncio.run(measure(args.frames))
    print(f"spans exported: {len(exporter.get_finished_spans())}")


if __name__ == "__main__":
    main()
