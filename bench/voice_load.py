"""Voice load: N concurrent /ws/voice sessions streaming audio both ways; server CPU per second of audio, and
proof that no audio frame is dropped in either direction.

Run: .venv/bin/python -m bench.voice_load --sessions 20 --seconds 10

Three parties, all on loopback:
- the fake OpenAI Realtime server (tests/fakes, a thread of this process), pacing assistant audio in real time;
- the real app in its own process (bench/server_process.py), so its CPU time and memory are measured alone;
- N browser clients (websockets, this process). Each one types the Paris weather question, then streams
  microphone audio paced in real time (PCM16 24 kHz, --frame-ms frames, each tagged with client and sequence
  number) for --seconds, and plays back the narrator's audio. The fake model's acknowledgement is a long
  filler sentence sized so assistant audio streams during the whole window, then the team's answer is spoken.

No barge-in happens (the fake's audio VAD is off and nobody speaks over the narrator), so nothing may be
truncated: bytes and frames must match exactly per session, microphone -> fake and fake -> page.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import struct
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench.server_process import ServerProcess, Usage  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from tests.fakes.common.audio import BYTES_PER_MS  # noqa: E402
from tests.fakes.realtime.brain import NarratorBrain, first_sentence  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402
from tests.support.scripted import PARIS_ANSWER  # noqa: E402

QUESTION = "What's the weather in Paris right now?"
SPOKEN_ANSWER = first_sentence(PARIS_ANSWER)
ACK_WORDS = "On it, the team is working on your question.".split()
SUMMARY_WORDS = len(NarratorBrain().summary(PARIS_ANSWER).split())
TAG = struct.Struct("<HHI")  # magic, client index, frame sequence number: the first 8 bytes of each mic frame
MAGIC = 0x4D49
LOG_PREFIX = '{"type": "realtime.log"'  # the narrator's mirrored event rows: counted, not parsed


@dataclass(frozen=True)
class LoadConfig:
    sessions: int = 20
    seconds: float = 10.0
    frame_ms: int = 40  # the browser's capture worklet sends 40 ms frames
    out_chunk_ms: int = 40  # assistant audio per output delta
    word_ms: int = 40  # spoken audio per word: one transcript delta each (40: a delta per audio frame, as before;
    # 400: natural speech, about 2.5 words a second, with audio still in out_chunk_ms frames)
    answer_timeout_s: float = 60.0

    @property
    def frames(self) -> int:
        return round(self.seconds * 1000 / self.frame_ms)

    @property
    def frame_bytes(self) -> int:
        return self.frame_ms * BYTES_PER_MS

    @property
    def ack_words(self) -> int:
        """Acknowledgement length so that ack + answer end at about 85 % of the microphone window."""
        return max(len(ACK_WORDS), int((self.seconds * 850) / self.word_ms) - SUMMARY_WORDS)


def make_fake(config: LoadConfig) -> FakeOpenAI:
    """A fake Realtime server whose model acknowledges with a long sentence, streamed at real-time pace."""
    ack = " ".join(itertools.islice(itertools.cycle(ACK_WORDS), config.ack_words))
    return FakeOpenAI(
        brain=NarratorBrain(ack_text=ack),
        realistic_pacing=True,
        ms_per_word=config.word_ms,
        audio_delta_ms=config.out_chunk_ms,
    )


# ---- microphone frames ------------------------------------------------------------------------------------
def mic_frame(client: int, seq: int, nbytes: int) -> bytes:
    """PCM16 silence whose first 8 bytes carry (magic, client, seq)."""
    return TAG.pack(MAGIC, client, seq) + bytes(nbytes - TAG.size)


def read_tag(audio_b64: str) -> tuple[int, int] | None:
    """(client, seq) of a mic frame from the start of its base64 (12 characters = 9 bytes), else None."""
    try:
        magic, client, seq = TAG.unpack(base64.b64decode(audio_b64[:12])[: TAG.size])
    except (ValueError, struct.error):
        return None
    return (client, seq) if magic == MAGIC else None


# ---- one browser ------------------------------------------------------------------------------------------
class BrowserClient:
    """The voice page: sends typed text and paced microphone frames, counts the narrator's audio frames."""

    def __init__(self, index: int, conn: websockets.ClientConnection) -> None:
        self.index = index
        self.conn = conn
        self.ready = asyncio.Event()
        self.answer_heard = asyncio.Event()
        self.sent_at: dict[int, float] = {}  # seq -> time.time() just before sending
        self.bytes_sent = 0
        self.frames_received = 0
        self.bytes_received = 0
        self.item_bytes: dict[str, int] = defaultdict(int)
        self.log_rows = 0
        self.errors: list[dict[str, object]] = []
        self.close_code: int | None = None
        self._item = ""
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, index: int, ws_url: str, timeout: float = 20.0) -> BrowserClient:
        client = cls(index, await websockets.connect(ws_url + "/ws/voice", max_size=None))
        await asyncio.wait_for(client.ready.wait(), timeout)
        return client

    async def _read(self) -> None:
        try:
            async for frame in self.conn:
                if isinstance(frame, bytes):
                    self.frames_received += 1
                    self.bytes_received += len(frame)
                    self.item_bytes[self._item] += len(frame)
                elif frame.startswith(LOG_PREFIX):
                    self.log_rows += 1
                else:
                    self._on_message(json.loads(frame))
        except websockets.ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else 1006
        else:
            self.close_code = self.conn.close_code

    def _on_message(self, message: dict[str, object]) -> None:
        kind = message.get("type")
        if kind == "voice.state" and message.get("state") == "ready":
            self.ready.set()
        elif kind == "audio.start":
            self._item = str(message["item_id"])
        elif kind == "caption" and message.get("role") == "assistant" and message.get("final"):
            if SPOKEN_ANSWER in str(message.get("text")):
                self.answer_heard.set()  # sent after every audio delta of that item: all audio is in
        elif kind == "error":
            self.errors.append(message)

    @property
    def frames_sent(self) -> int:
        return len(self.sent_at)

    async def ask(self, text: str) -> None:
        await self.conn.send(json.dumps({"type": "text", "text": text}))

    async def stream_mic(self, config: LoadConfig, offset_s: float = 0.0) -> None:
        """config.frames frames on an absolute real-time schedule (a late frame is sent at once, no drift)."""
        start = time.perf_counter() + offset_s
        for seq in range(config.frames):
            delay = start + seq * config.frame_ms / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = mic_frame(self.index, seq, config.frame_bytes)
            self.sent_at[seq] = time.time()
            await self.conn.send(frame)
            self.bytes_sent += len(frame)

    async def close(self) -> None:
        await self.conn.close()
        await asyncio.wait({self._reader}, timeout=2)


# ---- results ----------------------------------------------------------------------------------------------
@dataclass
class SessionResult:
    client: int
    sessions: list[int]  # the fake's realtime sessions that carried this client's mic frames (one, unless it
    # reconnected)
    frames_sent: int
    bytes_sent: int
    appends_received: int
    bytes_received_by_fake: int
    missing_seqs: list[int]
    deltas_sent: int
    bytes_sent_by_fake: int
    frames_received: int
    bytes_received: int
    answer_heard: bool
    close_code: int | None
    errors: list[dict[str, object]]

    @property
    def dropped_in(self) -> int:
        return max(len(self.missing_seqs), self.frames_sent - self.appends_received)

    @property
    def dropped_out(self) -> int:
        return self.deltas_sent - self.frames_received

    @property
    def bytes_match(self) -> bool:
        return (self.bytes_sent, self.bytes_sent_by_fake) == (self.bytes_received_by_fake, self.bytes_received)


@dataclass
class LoadResult:
    config: LoadConfig
    sessions: list[SessionResult]
    window_s: float
    server_cpu_s: float | None
    server_rss_idle_mb: float | None
    server_rss_mb: float | None
    bench_cpu_s: float
    latencies_ms: list[float]
    log_rows: int
    rejected: int
    violations: int
    problems: list[str] = field(default_factory=list)

    @property
    def audio_in_s(self) -> float:
        return sum(s.bytes_sent for s in self.sessions) / BYTES_PER_MS / 1000

    @property
    def audio_out_s(self) -> float:
        return sum(s.bytes_received for s in self.sessions) / BYTES_PER_MS / 1000

    @property
    def dropped_in(self) -> int:
        return sum(s.dropped_in for s in self.sessions)

    @property
    def dropped_out(self) -> int:
        return sum(s.dropped_out for s in self.sessions)

    @property
    def answers_heard(self) -> int:
        return sum(s.answer_heard for s in self.sessions)

    @property
    def all_bytes_match(self) -> bool:
        return all(s.bytes_match for s in self.sessions)


# ---- the run ----------------------------------------------------------------------------------------------
async def client_session(client: BrowserClient, config: LoadConfig) -> None:
    """Ask the question, stream the microphone for the window, then wait until the answer was heard."""
    await client.ask(QUESTION)
    offset = client.index * config.frame_ms / 1000 / max(config.sessions, 1)  # browsers are not in lockstep
    await client.stream_mic(config, offset)
    await asyncio.wait_for(client.answer_heard.wait(), config.answer_timeout_s)


def fake_appends(fake: FakeOpenAI) -> tuple[dict[int, list[int]], dict[int, list[tuple[int, float]]]]:
    """From the fake's record of input_audio_buffer.append events, by the frames' tags: client -> its realtime
    sessions, and client -> [(seq, receipt time)]."""
    sessions: dict[int, list[int]] = defaultdict(list)
    received: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for record in fake.realtime.client_events:
        if record.type != "input_audio_buffer.append":
            continue
        tag = read_tag(record.event.get("audio", ""))
        if tag is not None:
            if record.session not in sessions[tag[0]]:
                sessions[tag[0]].append(record.session)
            received[tag[0]].append((tag[1], record.time))
    return sessions, received


def session_result(
    client: BrowserClient, sessions: list[int], received: list[tuple[int, float]], fake: FakeOpenAI
) -> SessionResult:
    rt = fake.realtime
    seqs = {seq for seq, _ in received}
    return SessionResult(
        client=client.index,
        sessions=sessions,
        frames_sent=client.frames_sent,
        bytes_sent=client.bytes_sent,
        appends_received=len(received),
        bytes_received_by_fake=sum(rt.input_audio_bytes(s) for s in sessions),
        missing_seqs=sorted(set(client.sent_at) - seqs),
        deltas_sent=sum(len(rt.server_events_of("response.output_audio.delta", s)) for s in sessions),
        bytes_sent_by_fake=sum(rt.output_audio_bytes(s) for s in sessions),
        frames_received=client.frames_received,
        bytes_received=client.bytes_received,
        answer_heard=client.answer_heard.is_set(),
        close_code=client.close_code,
        errors=client.errors,
    )


def latencies(clients: list[BrowserClient], received: dict[int, list[tuple[int, float]]]) -> list[float]:
    """Mic frame latency, client send -> fake receipt (same process, same clock), in ms."""
    return [
        (at - clients[c].sent_at[seq]) * 1000
        for c, frames in received.items()
        for seq, at in frames
        if seq in clients[c].sent_at
    ]


async def run_load(
    ws_url: str, fake: FakeOpenAI, config: LoadConfig, usage: Callable[[], Usage] | None = None
) -> LoadResult:
    """Open config.sessions voice pages against the app at ws_url (whose narrator talks to `fake`), stream
    both ways, and account for every frame. `usage` (e.g. ServerProcess.usage) measures the server process."""
    idle = usage() if usage else None
    clients = list(await asyncio.gather(*(BrowserClient.open(i, ws_url) for i in range(config.sessions))))
    before = usage() if usage else None
    started, bench_cpu = time.perf_counter(), time.process_time()
    outcomes = await asyncio.gather(*(client_session(c, config) for c in clients), return_exceptions=True)
    window_s, bench_cpu = time.perf_counter() - started, time.process_time() - bench_cpu
    after = usage() if usage else None
    for client in clients:
        await client.close()
    sessions, received = fake_appends(fake)
    results = [session_result(c, sessions.get(c.index, []), received.get(c.index, []), fake) for c in clients]
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
        rejected=len(fake.realtime.rejected),
        violations=len(fake.realtime.violations),
        problems=problems,
    )


# ---- the report -------------------------------------------------------------------------------------------
def report(result: LoadResult) -> list[str]:
    c, s = result.config, result.sessions
    audio_s = result.audio_in_s + result.audio_out_s
    lines = [
        f"sessions                  {len(s)}  (mic {c.frame_ms} ms frames for {c.seconds:g} s; assistant audio "
        f"in {c.out_chunk_ms} ms deltas at real-time pace)",
        f"streaming window          {result.window_s:.2f} s (first mic frame -> every answer heard)",
        f"audio in / out (total)    {result.audio_in_s:.1f} s / {result.audio_out_s:.1f} s",
    ]
    if result.server_cpu_s is not None and result.server_rss_mb is not None:
        cpu = result.server_cpu_s
        grown = result.server_rss_mb - (result.server_rss_idle_mb or 0)
        lines += [
            f"server CPU                {cpu:.2f} s  ({cpu / result.window_s * 100:.0f} % of one core)",
            f"server CPU per audio s    {cpu * 1000 / audio_s:.1f} ms per second of audio (in + out), "
            f"{cpu * 1000 / result.audio_in_s:.1f} ms per second of mic audio",
            f"server RSS                {result.server_rss_mb:.1f} MB ({grown:+.1f} MB over idle, "
            f"{grown * 1024 / len(s):.0f} KB per session)",
        ]
    lines += [
        f"bench process CPU         {result.bench_cpu_s:.2f} s (fake realtime server + {len(s)} clients)",
        f"mic frames sent/received  {sum(x.frames_sent for x in s)} / {sum(x.appends_received for x in s)}  "
        f"(bytes {sum(x.bytes_sent for x in s)} / {sum(x.bytes_received_by_fake for x in s)})",
        f"out frames sent/received  {sum(x.deltas_sent for x in s)} / {sum(x.frames_received for x in s)}  "
        f"(bytes {sum(x.bytes_sent_by_fake for x in s)} / {sum(x.bytes_received for x in s)})",
        f"dropped frames in / out   {result.dropped_in} / {result.dropped_out}  (bytes equal per session: "
        f"{'yes' if result.all_bytes_match else 'NO'})",
        f"mic frame latency         {percentiles(result.latencies_ms)}  (client send -> fake receipt)",
        f"realtime.log rows         {result.log_rows}  (mirrored events the pages received)",
        f"rejected realtime events  {result.rejected}  (violations {result.violations})",
        f"answers spoken            {result.answers_heard}/{len(s)}",
    ]
    for x in s:
        if x.dropped_in or x.dropped_out or not x.bytes_match or not x.answer_heard or x.errors:
            lines.append(
                f"  client {x.client} (realtime sessions {x.sessions}): in {x.bytes_sent}->"
                f"{x.bytes_received_by_fake} B, missing seqs {x.missing_seqs[:10]}, out "
                f"{x.bytes_sent_by_fake}->{x.bytes_received} B, answer {x.answer_heard}, "
                f"close {x.close_code}, errors {x.errors[:3]}"
            )
    lines += [f"  problem: {p[:300]}" for p in result.problems[:20]]
    return lines


async def main(config: LoadConfig) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with make_fake(config) as fake, ServerProcess(Path(tmp), openai_base_url=fake.base_url) as server:
            result = await run_load(server.ws_url, fake, config, usage=server.usage)
    print("\n".join(report(result)))
    clean = (
        result.dropped_in == result.dropped_out == 0
        and result.all_bytes_match
        and not result.problems
        and result.answers_heard == config.sessions
    )
    return 0 if clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--frame-ms", type=int, default=40)
    parser.add_argument("--out-chunk-ms", type=int, default=40)
    args = parser.parse_args()
    raise SystemExit(
        asyncio.run(
            main(
                LoadConfig(
                    sessions=args.sessions, seconds=args.seconds, frame_ms=args.frame_ms, out_chunk_ms=args.out_chunk_ms
                )
            )
        )
    )
