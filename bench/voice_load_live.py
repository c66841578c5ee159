"""Voice load on GPT-Live (VOICE_API=live): N concurrent /ws/voice pages streaming audio both ways through the
app to the fake GPT-Live server; server CPU per second of audio, and proof that no audio frame is dropped.

Run: .venv/bin/python -m bench.voice_load_live --sessions 20 --seconds 10   (bench/voice_load.py: Realtime)

As bench/voice_load.py, with the Live protocol: each page streams tagged microphone frames
(`session.input_audio.append` at the fake, which tells the pages' sessions apart by the tags); the person's
question arrives as the fake's input transcript, GPT-Live delegates it, speaks a long acknowledgement in real
time (so audio flows out during the whole window), and then speaks the team's answer from our commentary.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.server_process import ServerProcess, Usage  # noqa: E402
from bench.voice_load import (  # noqa: E402
    ACK_WORDS,
    QUESTION,
    BrowserClient,
    LoadConfig,
    LoadResult,
    SessionResult,
    latencies,
    read_tag,
    report,
)
from tests.fakes.server import FakeOpenAI  # noqa: E402


def make_live_fake(config: LoadConfig) -> FakeOpenAI:
    """A fake whose GPT-Live model acknowledges with a long sentence, spoken at real-time pace."""
    fake = FakeOpenAI(realistic_pacing=True, ms_per_word=config.out_chunk_ms)
    fake.live.options.chunk_ms = config.out_chunk_ms
    fake.live.options.ack_text = " ".join(itertools.islice(itertools.cycle(ACK_WORDS), config.ack_words))
    return fake


def live_appends(fake: FakeOpenAI) -> tuple[dict[int, list[int]], dict[int, list[tuple[int, float]]]]:
    """client -> its Live sessions, and client -> [(seq, receipt time)], from the tagged microphone frames."""
    sessions: dict[int, list[int]] = defaultdict(list)
    received: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for session, event, at in fake.live.client_event_records():
        if event.get("type") != "session.input_audio.append":
            continue
        tag = read_tag(event.get("audio", ""))
        if tag is not None:
            if session not in sessions[tag[0]]:
                sessions[tag[0]].append(session)
            received[tag[0]].append((tag[1], at))
    return sessions, received


async def page_session(client: BrowserClient, fake: FakeOpenAI, config: LoadConfig) -> None:
    """Stream the microphone; once its frames show which Live session is this page's, the person asks."""
    offset = client.index * config.frame_ms / 1000 / max(config.sessions, 1)
    streaming = asyncio.create_task(client.stream_mic(config, offset))
    deadline = time.monotonic() + 10
    while not (mine := live_appends(fake)[0].get(client.index)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"page {client.index}: no microphone frame reached GPT-Live")
        await asyncio.sleep(0.02)
    await fake.live.asay(QUESTION, session=mine[0])
    await streaming
    await asyncio.wait_for(client.answer_heard.wait(), config.answer_timeout_s)


async def run_live_load(
    ws_url: str, fake: FakeOpenAI, config: LoadConfig, usage: Callable[[], Usage] | None = None
) -> LoadResult:
    idle = usage() if usage else None
    clients = list(await asyncio.gather(*(BrowserClient.open(i, ws_url) for i in range(config.sessions))))
    before = usage() if usage else None
    started, bench_cpu = time.perf_counter(), time.process_time()
    outcomes = await asyncio.gather(*(page_session(c, fake, config) for c in clients), return_exceptions=True)
    window_s, bench_cpu = time.perf_counter() - started, time.process_time() - bench_cpu
    after = usage() if usage else None
    for client in clients:
        await client.close()
    sessions, received = live_appends(fake)
    live = fake.live
    results = []
    for c in clients:
        mine, frames = sessions.get(c.index, []), received.get(c.index, [])
        results.append(
            SessionResult(
                client=c.index,
                sessions=mine,
                frames_sent=c.frames_sent,
                bytes_sent=c.bytes_sent,
                appends_received=len(frames),
                bytes_received_by_fake=sum(live.input_audio_bytes(s) for s in mine),
                missing_seqs=sorted(set(c.sent_at) - {seq for seq, _ in frames}),
                deltas_sent=sum(len(live.server_events_of("session.output_audio.delta", s)) for s in mine),
                bytes_sent_by_fake=sum(live.output_audio_bytes(s) for s in mine),
                frames_received=c.frames_received,
                bytes_received=c.bytes_received,
                answer_heard=c.answer_heard.is_set(),
                close_code=c.close_code,
                errors=c.errors,
            )
        )
    problems = fake.problems() + [f"client {c.index}: {o!r}" for c, o in zip(clients, outcomes) if o is not None]
    return LoadResult(
        config=config,
        sessions=results,
        window_s=window_s,
        server_cpu_s=after.cpu_s - before.cpu_s if after and before else None,
        server_rss_idle_mb=idle.rss_mb if idle else None,
        server_rss_mb=after.rss_mb if after else None,
        bench_cpu_s=bench_cpu,
        latencies_ms=latencies(clients, received),
        log_rows=sum(c.log_rows for c in clients),
        rejected=len(live.rejected),
        violations=len([p for p in live.problems() if "violation" in p]),
        problems=problems,
    )


async def main(config: LoadConfig) -> int:
    os.environ["VOICE_API"] = "live"  # the server process inherits it (app/core/voice_settings.py)
    with tempfile.TemporaryDirectory() as tmp:
        # The team takes a moment (model_delay), as real ones do: GPT-Live speaks its acknowledgement meanwhile
        # (an answer within the acknowledgement delay would cancel it, and little audio would flow).
        async with (
            make_live_fake(config) as fake,
            ServerProcess(Path(tmp), model_delay=0.3, openai_base_url=fake.base_url) as server,
        ):
            result = await run_live_load(server.ws_url, fake, config, usage=server.usage)
    print("\n".join(report(result)).replace("realtime", "GPT-Live"))
    clean = result.dropped_in == result.dropped_out == 0 and result.all_bytes_match and not result.problems
    return 0 if clean and result.answers_heard == config.sessions else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--frame-ms", type=int, default=40)
    parser.add_argument("--out-chunk-ms", type=int, default=40)
    args = parser.parse_args()
    config = LoadConfig(
        sessions=args.sessions, seconds=args.seconds, frame_ms=args.frame_ms, out_chunk_ms=args.out_chunk_ms
    )
    raise SystemExit(asyncio.run(main(config)))
