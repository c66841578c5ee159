"""The talking pages of bench/webrtc_sideband_load.py, in a process of their own (aiortc peers are CPU-bound:
with the fake's peers in the same process, ICE consent checks starve and calls drop under load).

    python -m bench.webrtc_pages HTTP_URL WS_URL --sessions 20 --seconds 10

Each page posts its SDP offer to /voice/calls, follows its call on /ws/voice?call=ID, prints `READY` once all
are connected, waits for `GO` on stdin, types the question and streams its microphone (silence, paced in real
time over RTP) for --seconds, then waits for the spoken answer on its data channel and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402

from tests.fakes.common.audio import pcm16  # noqa: E402
from tests.fakes.realtime.brain import first_sentence  # noqa: E402
from tests.support.scripted import PARIS_ANSWER  # noqa: E402
from tests.support.voice.webrtc_peer import BrowserPeer  # noqa: E402

QUESTION = "What's the weather in Paris right now?"
SPOKEN_ANSWER = first_sentence(PARIS_ANSWER)
ANSWER_DONE = "response.output_audio_transcript.done"


class SidebandPage:
    """One page over WebRTC: its peer (mic track, data channel, remote audio) and its follower socket."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.peer = BrowserPeer()
        self.follower: websockets.ClientConnection | None = None
        self.follower_bytes = 0
        self.answered = False
        self._reader: asyncio.Task[None] | None = None

    async def open(self, http_url: str, ws_url: str) -> None:
        async with httpx.AsyncClient(base_url=http_url, timeout=30) as http:
            reply = await http.post(
                "/voice/calls", content=await self.peer.offer(), headers={"Content-Type": "application/sdp"}
            )
        reply.raise_for_status()
        await self.peer.accept(reply.text)
        await self.peer.connected(timeout=30)
        self.follower = await websockets.connect(f"{ws_url}/ws/voice?call={reply.headers['x-call-id']}", max_size=None)
        ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read(ready))
        await asyncio.wait_for(ready.wait(), 20)

    async def _read(self, ready: asyncio.Event) -> None:
        assert self.follower is not None
        try:
            async for frame in self.follower:
                self.follower_bytes += len(frame)
                message = json.loads(frame)
                if message.get("type") == "voice.state" and message.get("state") == "ready":
                    ready.set()
        except websockets.ConnectionClosed:
            pass

    async def talk(self, seconds: float, timeout: float) -> None:
        assert self.follower is not None
        await self.follower.send(json.dumps({"type": "text", "text": QUESTION}))
        self.peer.mic.push(pcm16(int(seconds * 1000), "silence"))  # paced out in real time by the track
        await asyncio.sleep(seconds)
        async with asyncio.timeout(timeout):
            while not any(SPOKEN_ANSWER in str(e.get("transcript")) for e in self.peer.of_type(ANSWER_DONE)):
                await asyncio.sleep(0.05)
        self.answered = True

    async def close(self) -> None:
        if self.follower is not None:
            await self.follower.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=2)
        await self.peer.close()


async def main(http_url: str, ws_url: str, sessions: int, seconds: float, timeout: float) -> None:
    pages = [SidebandPage(i) for i in range(sessions)]
    for page in pages:  # one at a time: ICE and DTLS setup is not what is measured
        await page.open(http_url, ws_url)
    print("READY", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    outcomes = await asyncio.gather(*(p.talk(seconds, timeout) for p in pages), return_exceptions=True)
    result = {
        "answers": sum(p.answered for p in pages),
        "heard_bytes": sum(p.peer.heard_bytes for p in pages),
        "follower_bytes": sum(p.follower_bytes for p in pages),
        "channel_events": sum(len(p.peer.events) for p in pages),
        "problems": [f"page {p.index}: {o!r}" for p, o in zip(pages, outcomes) if o is not None],
    }
    print(json.dumps(result), flush=True)
    for page in pages:
        await page.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("http_url")
    parser.add_argument("ws_url")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(main(args.http_url, args.ws_url, args.sessions, args.seconds, args.timeout))
