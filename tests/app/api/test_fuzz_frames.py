"""Bad input on the WebSockets, fuzzed: over 10,000 hypothesis-generated frames against a real running server.

What it proves, on /ws/team (scripted models) and /ws/voice (a narrator connected to the fake OpenAI Realtime
server): every bad frame is answered with an error carrying a code and a message (on /ws/team as a
connection-only reply, seq None); valid frames get their normal reply, or none; never an internal_error; the
connection keeps serving (a ping gets its pong after every batch); the realtime server never saw a client
event it rejects; and afterwards the same connection still runs a normal task to its answer. Rate limits are
raised for the fuzz; one test shows a flood is rate limited with the default /ws/voice limits.

Frames are pipelined in batches over one connection per endpoint and matched with their replies in order
(each connection handles its frames one by one). The frames and what each must get come from
tests/support/fuzz_strategies.py; hypothesis runs derandomized, so every run sends the same frames.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from pydantic import ValidationError

from app.core.protocol import SERVER_EVENT
from app.core.voice_protocol import VOICE_OUT
from tests.support.fuzz_strategies import Frame, draw_frames, team_mix, team_size, voice_mix, voice_size
from tests.support.live_server import LiveServer, ScriptBook, WsClient, live_app, scripted_app
from tests.support.scripted import PARIS_ANSWER, paris_script
from tests.support.voice.client import spoken_with_answer, voice_app

TEAM_FRAMES = 5_500
VOICE_FRAMES = 4_600
BATCH = 250
REPLY_TIMEOUT_S = 10.0
NO_LIMIT_RATE, NO_LIMIT_BURST = 1e9, 10**9  # per connection; the fuzz measures input handling, not limits


@dataclass
class Tally:
    """What one endpoint's fuzz did, for the printed figures."""

    endpoint: str
    frames: int = 0
    errors: int = 0
    internal_errors: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] += 1
        if outcome.startswith("error:"):
            self.errors += 1
        if outcome == "error:internal_error":
            self.internal_errors += 1

    def line(self) -> str:
        rate = self.frames / self.seconds if self.seconds else 0.0
        return (
            f"fuzz {self.endpoint}: {self.frames} frames, {self.errors} errors, {self.internal_errors} internal "
            f"errors, {rate:.0f} frames/s"
        )


Reply = dict[str, Any]  # one decoded JSON message from the server


@dataclass
class BatchResult:
    replies: list[Reply]  # the connection's replies to the batch, in order
    complete: bool  # the ping after the batch got its pong in time


def check_batch(
    batch: list[Frame],
    result: BatchResult,
    outcome: Callable[[Reply], str],
    check_reply: Callable[[Frame, Reply], None],
    tally: Tally,
) -> None:
    """Each frame that needs a reply got one, in order, of a kind its generator allows."""
    expected = [frame for frame in batch if frame.needs_reply]
    for frame, reply in zip(expected, result.replies):
        got = outcome(reply)
        tally.add(got)
        assert got != "error:internal_error", f"server bug on {frame.shown()}: {reply}"
        assert got in frame.outcomes, f"{frame.shown()}\n  wanted one of {sorted(frame.outcomes)}, got {reply}"
        check_reply(frame, reply)
    assert result.complete and len(result.replies) == len(expected), missing_reply(expected, result)
    tally.frames += len(batch)


def missing_reply(expected: list[Frame], result: BatchResult) -> str:
    got = len(result.replies)
    first = expected[got].shown() if got < len(expected) else "(none: a reply too many)"
    silent = "" if result.complete else "the server stopped answering; "
    return f"{silent}{len(expected)} frames needed a reply, {got} came; first without one: {first}"


async def pipelined(send_all: Callable[[], Coroutine[Any, Any, None]], collect: Callable[[], Awaitable[None]]) -> bool:
    """Send a batch while `collect` reads its replies; False when they stop coming."""
    sender = asyncio.create_task(send_all())
    try:
        await asyncio.wait_for(collect(), REPLY_TIMEOUT_S)
        return True
    except TimeoutError:
        return False
    finally:
        await sender


# ---- /ws/team -------------------------------------------------------------------------------------------
def team_outcome(event: Reply) -> str:
    return f"error:{event['data']['code']}" if event["type"] == "error" else event["type"]


def check_team_reply(frame: Frame, event: Reply) -> None:
    """The envelope of a connection-only reply: published schema, seq None, code, message, echoed id."""
    SERVER_EVENT.validate_python(event)
    assert event["seq"] is None, event
    data = event["data"]
    if event["type"] == "error":
        assert data["code"] and data["message"], event
    if event["type"] == "status":
        assert data["state"] == "idle" and data["run_id"] is None, f"the fuzz started a run: {frame.shown()}"
    if frame.echo_id is not None and event["type"] in ("error", "pong"):
        assert data.get("id") == frame.echo_id, f"{frame.shown()}: id not echoed in {event}"


async def team_batch(client: WsClient, batch: list[Frame], sentinel: str) -> BatchResult:
    replies: list[Reply] = []

    async def send_all() -> None:
        for frame in batch:
            await client.conn.send(frame.data)
        await client.send({"type": "ping", "id": sentinel})

    async def collect() -> None:
        while True:
            event = await client.recv(REPLY_TIMEOUT_S)
            if event["seq"] is not None:
                SERVER_EVENT.validate_python(event)  # a session event (reset), not a reply
            elif event["type"] == "pong" and event["data"].get("id") == sentinel:
                return  # the connection still serves after this batch
            else:
                replies.append(event)

    return BatchResult(replies, await pipelined(send_all, collect))


async def test_fuzz_ws_team(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = draw_frames(team_mix(), TEAM_FRAMES, team_size)
    assert len(frames) == TEAM_FRAMES
    tally = Tally("/ws/team")
    app = scripted_app(tmp_path, ScriptBook(paris_script), ws_rate_per_s=NO_LIMIT_RATE, ws_rate_burst=NO_LIMIT_BURST)
    async with live_app(app) as server:
        client = await server.connect()
        assert (await client.recv())["data"]["event"] == "connected"
        started = time.monotonic()
        for n, start in enumerate(range(0, len(frames), BATCH)):
            batch = frames[start : start + BATCH]
            result = await team_batch(client, batch, f"sentinel-{n}")
            check_batch(batch, result, team_outcome, check_team_reply, tally)
        tally.seconds = time.monotonic() - started
        await assert_still_healthy(server)
        await client.send({"type": "task", "text": "Weather in Paris?"})
        done = await client.until(lambda e: e["type"] == "run_finished", timeout=15)
        assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
        await client.close()
    report(capsys, tally)


# ---- /ws/voice ------------------------------------------------------------------------------------------
class VoiceReader:
    """The browser side of /ws/voice for the fuzz: replies (error, pong) in order, everything else counted."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.replies: asyncio.Queue[Reply] = asyncio.Queue()
        self.other: Counter[str] = Counter()
        self.team_events: list[dict[str, Any]] = []
        self.off_protocol: list[str] = []  # messages the published protocol (VOICE_OUT) does not describe
        self.ready = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.conn:
            if isinstance(frame, bytes):
                self.other["audio"] += 1
                continue
            message = json.loads(frame)
            try:
                VOICE_OUT.validate_python(message)
            except ValidationError as exc:
                self.off_protocol.append(f"{frame[:200]}: {exc}")
            kind = message["type"]
            if kind in ("error", "pong"):
                self.replies.put_nowait(message)
                continue
            self.other[kind] += 1
            if kind == "team":
                self.team_events.append(message["event"])
            if kind == "voice.state" and message["state"] == "ready":
                self.ready.set()

    async def batch(self, batch: list[Frame]) -> BatchResult:
        replies: list[Reply] = []
        wanted = sum(frame.needs_reply for frame in batch) + 1  # + the closing ping

        async def send_all() -> None:
            for frame in batch:
                await self.conn.send(frame.data)
            await self.conn.send(json.dumps({"type": "ping"}))

        async def collect() -> None:
            while len(replies) < wanted:
                replies.append(await self.replies.get())

        if not await pipelined(send_all, collect):
            return BatchResult(replies, complete=False)
        if replies[-1] != {"type": "pong"}:  # one reply too many, or one missing
            return BatchResult(replies, complete=True)
        return BatchResult(replies[:-1], complete=True)

    async def close(self) -> None:
        await self.conn.close()
        await asyncio.wait({self._task}, timeout=2)


def voice_outcome(message: Reply) -> str:
    return f"error:{message['code']}" if message["type"] == "error" else message["type"]


def check_voice_reply(frame: Frame, message: Reply) -> None:
    if message["type"] == "error":
        assert message["code"] and message["message"], f"{frame.shown()}: {message}"


def sent_audio(frames: list[Frame]) -> list[int]:
    """Sizes of the valid, non-empty audio frames: each must become one input_audio_buffer.append."""
    return [len(f.data) for f in frames if isinstance(f.data, bytes) and f.outcomes == {"none"} and f.data]


async def test_fuzz_ws_voice(tmp_path: Path, fake_openai: Any, capsys: pytest.CaptureFixture[str]) -> None:
    frames = draw_frames(voice_mix(), VOICE_FRAMES, voice_size)
    assert len(frames) == VOICE_FRAMES and TEAM_FRAMES + VOICE_FRAMES >= 10_000
    tally = Tally("/ws/voice")
    unlimited = {"voice_rate_per_s": NO_LIMIT_RATE, "voice_rate_burst": NO_LIMIT_BURST}
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script), settings=unlimited)) as server:
        voice = VoiceReader(await websockets.connect(server.ws_url + "/ws/voice", max_size=None))
        await asyncio.wait_for(voice.ready.wait(), 10)
        started = time.monotonic()
        for start in range(0, len(frames), BATCH):
            batch = frames[start : start + BATCH]
            check_batch(batch, await voice.batch(batch), voice_outcome, check_voice_reply, tally)
        tally.seconds = time.monotonic() - started
        audio = sent_audio(frames)
        rt = fake_openai.realtime
        await rt.until(lambda rt: rt.audio_appends >= len(audio), timeout=10, what="every valid audio frame")
        assert (rt.audio_appends, rt.audio_bytes_received) == (len(audio), sum(audio))
        assert not rt.responses, "a fuzz frame made the narrator ask for a response"
        await assert_still_healthy(server)
        await voice.conn.send(json.dumps({"type": "text", "text": "What's the weather in Paris?"}))
        await rt.until(spoken_with_answer, timeout=15, what="the answer spoken")
        finished = [e for e in voice.team_events if e["type"] == "run_finished"]
        assert finished and finished[0]["data"]["final_answer"].startswith(PARIS_ANSWER)
        assert voice.replies.empty(), f"unexpected replies: {voice.replies.get_nowait()}"
        assert not voice.off_protocol, voice.off_protocol[:3]
        fake_openai.assert_clean()  # no rejected client event, no protocol violation
        await voice.close()
    report(capsys, tally)


async def test_voice_flood_is_rate_limited_with_default_limits(tmp_path: Path, fake_openai: Any) -> None:
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script))) as server:
        settings = server.services.settings
        assert (settings.voice_rate_per_s, settings.voice_rate_burst) == (100.0, 200)
        voice = VoiceReader(await websockets.connect(server.ws_url + "/ws/voice", max_size=None))
        await asyncio.wait_for(voice.ready.wait(), 10)
        for _ in range(600):
            await voice.conn.send(json.dumps({"type": "ping"}))
        replies = [await asyncio.wait_for(voice.replies.get(), REPLY_TIMEOUT_S) for _ in range(600)]
        codes = Counter(voice_outcome(r) for r in replies)
        assert set(codes) == {"pong", "error:rate_limited"}, codes  # every frame answered, some refused
        assert codes["pong"] < 400, codes
        assert all(r["message"] for r in replies if r["type"] == "error")
        await asyncio.sleep(0.1)  # tokens come back: the connection serves again
        after = await voice.batch([Frame(json.dumps({"type": "ping"}), "after", frozenset({"pong"}))])
        assert after == BatchResult([{"type": "pong"}], complete=True)
        fake_openai.assert_clean()
        await voice.close()


# ---- shared ---------------------------------------------------------------------------------------------
async def assert_still_healthy(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        health = await http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text


def report(capsys: pytest.CaptureFixture[str], tally: Tally) -> None:
    with capsys.disabled():
        print(f"\n{tally.line()}")
        print("  replies: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items())))
