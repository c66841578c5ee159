"""Relay vs WebRTC sideband, side by side in one run: server CPU per second of talking and memory per voice
session, with the same number of talking pages.

Run: .venv/bin/python -m bench.webrtc_sideband_load --sessions 20 --seconds 10

Both halves use the same fake OpenAI (tests/fakes, a thread of this process, assistant audio paced in real
time, a long acknowledgement so audio flows all through the window) and the same real app in its own process
(bench/server_process.py), measured from outside:
- relay: bench/voice_load.py as is (each page streams PCM16 over /ws/voice; the server forwards both ways);
- sideband: each page is an aiortc peer (bench/webrtc_pages.py, a process of its own) that posts its SDP offer to /voice/calls, follows its
  call on /ws/voice?call=ID (state, team events, as the real page does), types the question and
  streams its microphone over RTP to the fake for the window; the server runs the narrator on the sideband.
The figures per second of talking divide the server's CPU by the seconds of audio that flowed (in + out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.server_process import ServerProcess, Usage  # noqa: E402
from bench.voice_load import SPOKEN_ANSWER, LoadConfig, make_fake, report, run_load  # noqa: E402
from tests.fakes.common.audio import BYTES_PER_MS  # noqa: E402
from tests.fakes.server import FakeOpenAI  # noqa: E402


@dataclass
class SidebandResult:
    sessions: int
    window_s: float
    server_cpu_s: float
    rss_idle_mb: float
    rss_mb: float
    audio_in_s: float
    audio_out_s: float
    heard_s: float
    answers: int
    follower_bytes: int
    problems: list[str]

    @property
    def kb_per_session(self) -> float:
        return (self.rss_mb - self.rss_idle_mb) * 1024 / self.sessions

    @property
    def cpu_ms_per_audio_s(self) -> float:
        return self.server_cpu_s * 1000 / max(self.audio_in_s + self.audio_out_s, 1e-9)


async def run_sideband(server: ServerProcess, fake: FakeOpenAI, config: LoadConfig) -> SidebandResult:
    """The pages run in their own process (bench/webrtc_pages.py); the window is from GO to every answer."""
    idle = server.usage()
    pages = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.webrtc_pages", server.http_url, server.ws_url,
        "--sessions", str(config.sessions), "--seconds", str(config.seconds),
        "--timeout", str(config.answer_timeout_s),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert pages.stdin is not None and pages.stdout is not None
    line = (await asyncio.wait_for(pages.stdout.readline(), 180)).decode()
    if line.strip() != "READY":
        raise RuntimeError(f"the pages did not connect: {line!r}")
    before: Usage = server.usage()
    started = time.perf_counter()
    pages.stdin.write(b"GO\n")
    await pages.stdin.drain()
    outcome = json.loads(await asyncio.wait_for(pages.stdout.readline(), config.seconds + config.answer_timeout_s + 30))
    window_s = time.perf_counter() - started
    after = server.usage()
    calls = list(fake.webrtc.calls.values())
    ended = [c.call_id for c in calls if c.ended]  # before the pages hang up
    await asyncio.wait_for(pages.wait(), 30)
    spoken = len([t for t in fake.realtime.spoken() if SPOKEN_ANSWER in t])
    extra = [f"{len(ended)} calls ended during the window (WebRTC connection lost)"] if ended else []
    extra += [f"the fake spoke {spoken} answers"] if spoken != config.sessions else []
    return SidebandResult(
        sessions=config.sessions,
        window_s=window_s,
        server_cpu_s=after.cpu_s - before.cpu_s,
        rss_idle_mb=idle.rss_mb,
        rss_mb=after.rss_mb,
        # what the pages said: the same config.seconds of microphone as the relay's pages (the RTP track goes on
        # sending silence after that, which the relay pages do not send)
        audio_in_s=min(sum(c.input_audio_bytes for c in calls) / BYTES_PER_MS / 1000, config.seconds * config.sessions),
        audio_out_s=fake.realtime.output_audio_bytes() / BYTES_PER_MS / 1000,
        heard_s=outcome["heard_bytes"] / BYTES_PER_MS / 1000,
        answers=outcome["answers"],
        follower_bytes=outcome["follower_bytes"],
        problems=fake.problems() + extra + outcome["problems"],
    )


async def idle_cpu_per_s(server: ServerProcess, seconds: float = 3.0) -> float:
    """The server's CPU seconds per second while nobody talks (timers, the session sweeper)."""
    before = server.usage().cpu_s
    await asyncio.sleep(seconds)
    return (server.usage().cpu_s - before) / seconds


async def main(config: LoadConfig) -> int:
    # All pages are the one local user here: let it hold them all (the server process inherits these).
    os.environ["VOICE_SESSIONS_PER_USER"] = str(config.sessions)
    os.environ["SESSION_RATE_PER_MIN"] = str(max(10, 3 * config.sessions))
    with tempfile.TemporaryDirectory() as tmp:
        async with make_fake(config) as fake, ServerProcess(Path(tmp) / "relay", openai_base_url=fake.base_url) as srv:
            relay_idle = await idle_cpu_per_s(srv)
            relay = await run_load(srv.ws_url, fake, config, usage=srv.usage)
        async with make_fake(config) as fake, ServerProcess(Path(tmp) / "rtc", openai_base_url=fake.base_url) as srv:
            sideband_idle = await idle_cpu_per_s(srv)
            sideband = await run_sideband(srv, fake, config)
    print("relay (/ws/voice carries the audio):")
    print("\n".join("  " + line for line in report(relay)))
    print("WebRTC + sideband (the audio goes browser <-> voice service):")
    print(f"  sessions                  {sideband.sessions}, window {sideband.window_s:.2f} s")
    print(
        f"  audio in / out (total)    {sideband.audio_in_s:.1f} s / {sideband.audio_out_s:.1f} s "
        f"(pages received {sideband.heard_s:.1f} s in 20 ms frames with sound)"
    )
    print(
        f"  server CPU                {sideband.server_cpu_s:.3f} s "
        f"({sideband.server_cpu_s / sideband.window_s * 100:.1f} % of one core)"
    )
    print(f"  server CPU per audio s    {sideband.cpu_ms_per_audio_s:.2f} ms per second of audio (in + out)")
    print(f"  server RSS                {sideband.rss_mb:.1f} MB ({sideband.kb_per_session:.0f} KB per session)")
    print(
        f"  bytes to the pages        {sideband.follower_bytes} (follower sockets: state, team events, the narrator's sent events)"
    )
    print(f"  answers spoken            {sideband.answers}/{sideband.sessions}")
    for problem in sideband.problems[:20]:
        print(f"  problem: {problem[:300]}")
    relay_audio_s = relay.audio_in_s + relay.audio_out_s
    relay_ms = (relay.server_cpu_s or 0) * 1000 / max(relay_audio_s, 1e-9)
    relay_kb = ((relay.server_rss_mb or 0) - (relay.server_rss_idle_mb or 0)) * 1024 / config.sessions
    print("side by side:")
    print(
        f"  server CPU per second of audio   relay {relay_ms:.2f} ms   sideband {sideband.cpu_ms_per_audio_s:.2f} ms"
        f"   ({relay_ms / max(sideband.cpu_ms_per_audio_s, 1e-9):.0f}x less)"
    )
    print(f"  server RSS per voice session     relay {relay_kb:.0f} KB   sideband {sideband.kb_per_session:.0f} KB")
    relay_busy = (relay.server_cpu_s or 0) - relay_idle * relay.window_s
    sideband_busy = sideband.server_cpu_s - sideband_idle * sideband.window_s
    print(
        f"  server CPU above idle            relay {relay_busy:.3f} s   sideband {sideband_busy:.3f} s   "
        f"({relay_busy / max(sideband_busy, 1e-9):.0f}x less; idle {relay_idle * 1000:.1f} / "
        f"{sideband_idle * 1000:.1f} ms per s)"
    )
    clean = not relay.problems and not sideband.problems and sideband.answers == config.sessions
    return 0 if clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--word-ms", type=int, default=400, help="spoken audio per word (natural speech: ~400)")
    args = parser.parse_args()
    config = LoadConfig(sessions=args.sessions, seconds=args.seconds, word_ms=args.word_ms)
    raise SystemExit(asyncio.run(main(config)))
