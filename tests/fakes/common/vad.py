"""A small energy-based voice activity detector over appended PCM16 audio (for tests that stream real audio,
e.g. a browser fed a WAV file). It only finds where speech starts and stops; the words come from a queue."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.common.audio import rms_frames

FRAME_MS = 20


@dataclass
class VadEvent:
    kind: str  # "start" or "stop"
    ms: int


class EnergyVad:
    """Speech starts after `min_speech_ms` of frames above `threshold_rms`; stops after `silence_ms` below it."""

    def __init__(
        self, *, threshold_rms: float = 500.0, min_speech_ms: int = 200, silence_ms: int | None = None
    ) -> None:
        self.threshold_rms = threshold_rms
        self.min_speech_ms = min_speech_ms
        self.silence_ms = silence_ms
        self.position_ms = 0
        self.speaking = False
        self._voiced_run = 0
        self._silent_run = 0
        self._carry = b""

    def feed(self, pcm: bytes, session_silence_ms: int) -> list[VadEvent]:
        """Consume audio; return the speech start/stop points found in it (milliseconds of input audio)."""
        data = self._carry + pcm
        frame_bytes = 48 * FRAME_MS
        whole = len(data) - len(data) % frame_bytes
        self._carry = data[whole:]
        events: list[VadEvent] = []
        silence_needed = self.silence_ms if self.silence_ms is not None else session_silence_ms
        for level in rms_frames(data[:whole], FRAME_MS):
            self.position_ms += FRAME_MS
            voiced = level >= self.threshold_rms
            if not self.speaking:
                self._voiced_run = self._voiced_run + FRAME_MS if voiced else 0
                if self._voiced_run >= self.min_speech_ms:
                    self.speaking = True
                    self._silent_run = 0
                    events.append(VadEvent("start", self.position_ms - self._voiced_run))
            else:
                self._silent_run = 0 if voiced else self._silent_run + FRAME_MS
                if self._silent_run >= max(silence_needed, FRAME_MS):
                    self.speaking = False
                    self._voiced_run = 0
                    events.append(VadEvent("stop", self.position_ms - self._silent_run))
        return events
