"""PCM16 mono 24 kHz audio: the only format the fake speaks and measures.

24 000 samples/s * 2 bytes = 48 bytes per millisecond.
"""

from __future__ import annotations

import array
import base64
import math
from functools import lru_cache

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # 48


def bytes_to_ms(nbytes: int) -> float:
    """Duration in milliseconds of `nbytes` of PCM16 24 kHz mono audio."""
    return nbytes / BYTES_PER_MS


def ms_to_bytes(ms: float) -> int:
    """Byte length of `ms` milliseconds of PCM16 24 kHz mono audio (whole samples)."""
    return int(ms * SAMPLE_RATE / 1000) * 2


@lru_cache(maxsize=64)
def pcm16(ms: int, kind: str = "tone", freq: float = 440.0, amplitude: float = 0.2) -> bytes:
    """`ms` milliseconds of silence (`kind="silence"`) or a quiet sine tone (`kind="tone"`)."""
    n = int(ms * SAMPLE_RATE / 1000)
    if kind == "silence":
        return bytes(2 * n)
    peak = int(32767 * amplitude)
    samples = array.array("h", (int(peak * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)) for i in range(n)))
    return samples.tobytes()


def pcm16_b64(ms: int, kind: str = "tone") -> str:
    """Base64 of `pcm16(ms, kind)`, as carried by `response.output_audio.delta`."""
    return base64.b64encode(pcm16(ms, kind)).decode("ascii")


def rms_frames(pcm: bytes, frame_ms: int = 20) -> list[float]:
    """Root-mean-square level of each `frame_ms` frame of PCM16 audio (a trailing partial frame included)."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - (len(pcm) % 2)])
    step = SAMPLE_RATE * frame_ms // 1000
    levels = []
    for start in range(0, len(samples), step):
        frame = samples[start : start + step]
        if frame:
            levels.append(math.sqrt(sum(s * s for s in frame) / len(frame)))
    return levels
