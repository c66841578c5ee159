"""The browser's side of a WebRTC voice call, with aiortc: a microphone track we feed PCM16 into, the
`oai-events` data channel, and the remote audio counted as it plays; and starting a call through our app."""

from __future__ import annotations

import array
import asyncio
import json
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.fakes.common.audio import pcm16
from tests.fakes.webrtc.audio import PcmFromRtp, PcmOutTrack

SILENCE_PEAK = 200
API_KEY = "sk-fake-test-key"  # voice_app's
QUESTION = "What's the weather in Paris right now?"


class BrowserPeer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.mic = PcmOutTrack()
        self.pc.addTrack(self.mic)
        self.pc.addTransceiver("audio", direction="sendrecv")
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.texts: list[str] = []
        self.heard_bytes = 0
        """Bytes of non-silent audio received from the far end (the narrator speaking)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: Any) -> None:
        if isinstance(message, str):
            self.texts.append(message)
            self.events.append(json.loads(message))

    def _on_track(self, track: Any) -> None:
        if track.kind == "audio":
            task = asyncio.ensure_future(self._listen(track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _listen(self, track: Any) -> None:
        convert = PcmFromRtp()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = convert.convert(frame)
            if pcm and _loud(pcm):
                self.heard_bytes += len(pcm)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def connected(self, timeout: float = 10.0) -> None:
        async def wait() -> None:
            while self.pc.connectionState != "connected" or self.channel.readyState != "open":
                await asyncio.sleep(0.02)

        await asyncio.wait_for(wait(), timeout)

    def say(self, ms: int = 1200) -> None:
        """Speak into the microphone: a tone the fake's VAD hears as a turn (the words are queued on the fake)."""
        self.mic.push(pcm16(ms, "tone"))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    async def close(self) -> None:
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()


async def start_call(server: Any, peer: BrowserPeer, **params: str) -> httpx.Response:
    """POST /voice/calls with the peer's offer, as the page does; on 201 the answer is applied and connected."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
        reply = await http.post(
            "/voice/calls", params=params, content=await peer.offer(), headers={"Content-Type": "application/sdp"}
        )
    if reply.status_code == 201:
        await peer.accept(reply.text)
        await peer.connected()
    return reply


def voice_calls(server: Any) -> Any:
    return server.services.voice_calls


def _loud(pcm: bytes) -> bool:
    """Whether a frame is more than silence: its peak over every 8th sample (cheap enough for 20 peers at once)."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    sparse = samples[::8]
    return bool(sparse) and max(max(sparse), -min(sparse)) > SILENCE_PEAK
