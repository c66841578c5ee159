"""PCM16 24 kHz mono in and out of aiortc: a paced outgoing track fed from a bounded buffer, and the
conversion of received RTP audio frames (48 kHz Opus decoded) back to PCM16 24 kHz mono."""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from tests.fakes.common.audio import SAMPLE_RATE

FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 480
FRAME_BYTES = FRAME_SAMPLES * 2
MAX_BUFFER_BYTES = SAMPLE_RATE * 2 * 120  # two minutes of queued speech at most; older audio is dropped


class PcmOutTrack(MediaStreamTrack):
    """An audio track that plays what is `push`ed (PCM16 24 kHz mono) in real time, silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self._start: float | None = None
        self._pts = 0
        self.bytes_sent = 0
        """Bytes of pushed (non-silence) audio sent so far."""

    def push(self, pcm: bytes) -> None:
        self._buffer += pcm
        if len(self._buffer) > MAX_BUFFER_BYTES:
            del self._buffer[: len(self._buffer) - MAX_BUFFER_BYTES]

    def clear(self) -> None:
        self._buffer.clear()

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME_SAMPLES
            await asyncio.sleep(max(0.0, self._start + self._pts / SAMPLE_RATE - time.monotonic()))
        chunk = bytes(self._buffer[:FRAME_BYTES])
        del self._buffer[:FRAME_BYTES]
        self.bytes_sent += len(chunk)
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk.ljust(FRAME_BYTES, b"\0"))
        frame.pts = self._pts
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class PcmFromRtp:
    """Received audio frames (any rate and layout) as PCM16 24 kHz mono bytes."""

    def __init__(self) -> None:
        self._resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def convert(self, frame: Any) -> bytes:
        out = bytearray()
        for converted in self._resampler.resample(frame):
            out += bytes(converted.planes[0])[: converted.samples * 2]
        return bytes(out)
