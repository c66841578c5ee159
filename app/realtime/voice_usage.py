"""Voice minutes and cost of one voice session, from the events the voice front sends and receives.

Minutes (per direction: `in` the person, `out` the narrator) depend on what the server sees:
- relay (/ws/voice): the PCM16 24 kHz audio it carried, silence included (the page streams while unmuted);
- WebRTC, Realtime: the audio never reaches us, so `in` is the person's speech as the service's VAD reports it
  (input_audio_buffer.speech_started .. speech_stopped) and `out` the output audio tokens the service reports in
  response.done, at 20 tokens a second (OpenAI's rate for output audio, as measured by users: an estimate);
- WebRTC, GPT-Live: the time ranges of the input and output transcript deltas (the service's session timeline).
Cost: Realtime, every response.done's usage (text/audio, cached apart) at the model's VoicePrice; GPT-Live, the
session duration it reports (session.usage.updated / session.closed, cumulative per Live session) per minute.

The page is told (`voice.usage`) when the figures changed, at most every `every_s`; Prometheus counters get the
increase at the same moments and when the session closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from openai.types.live.session_usage import SessionUsage
from openai.types.realtime.realtime_response_usage import RealtimeResponseUsage
from pydantic import ValidationError

from app.core import metrics
from app.core.prices import VoicePrice

log = logging.getLogger(__name__)

BYTES_PER_MS = 48  # PCM16 mono at 24 kHz
OUTPUT_AUDIO_TOKENS_PER_S = 20.0
SENT_AUDIO = {"input_audio_buffer.append": "audio", "session.input_audio.append": "audio"}
RECEIVED_AUDIO = {
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
    "session.output_audio.delta": "delta",
}
LIVE_USAGE_EVENTS = ("session.usage.updated", "session.closed")
Transport = Literal["relay", "webrtc"]


@dataclass
class TokenCounts:
    """Realtime tokens by kind; `text_in` / `audio_in` exclude the cached ones."""

    text_in: int = 0
    cached_text_in: int = 0
    audio_in: int = 0
    cached_audio_in: int = 0
    text_out: int = 0
    audio_out: int = 0

    @property
    def input(self) -> int:
        return self.text_in + self.cached_text_in + self.audio_in + self.cached_audio_in

    @property
    def output(self) -> int:
        return self.text_out + self.audio_out

    def add(self, other: TokenCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def usd(self, price: VoicePrice) -> float:
        return (
            self.text_in * price.text_input
            + self.cached_text_in * price.cached_text_input
            + self.audio_in * price.audio_input
            + self.cached_audio_in * price.cached_audio_input
            + self.text_out * price.text_output
            + self.audio_out * price.audio_output
        ) / 1e6


def response_tokens(raw: Any) -> TokenCounts:
    """A response.done's `usage` (the SDK's RealtimeResponseUsage). Input tokens not split by the service are
    counted as audio, output ones as audio too: the dearer kind, so a gap never lowers the cost."""
    if not isinstance(raw, dict):
        return TokenCounts()
    try:
        usage = RealtimeResponseUsage.model_validate(raw)
    except ValidationError:
        log.warning("response.done carried a usage the SDK does not read")
        return TokenCounts()
    details = usage.input_token_details
    cached = details.cached_tokens_details if details is not None else None
    text = (details.text_tokens or 0) if details is not None else 0
    audio = (details.audio_tokens or 0) if details is not None else 0
    cached_text = min(text, (cached.text_tokens or 0) if cached is not None else 0)
    cached_audio = min(audio, (cached.audio_tokens or 0) if cached is not None else 0)
    audio += max(0, (usage.input_tokens or 0) - text - audio - ((details.image_tokens or 0) if details else 0))
    out = usage.output_token_details
    text_out = (out.text_tokens or 0) if out is not None else 0
    audio_out = (out.audio_tokens or 0) if out is not None else 0
    audio_out += max(0, (usage.output_tokens or 0) - text_out - audio_out)
    return TokenCounts(text - cached_text, cached_text, audio - cached_audio, cached_audio, text_out, audio_out)


def live_seconds(event: dict[str, Any]) -> float | None:
    try:
        return SessionUsage.model_validate(event.get("usage")).seconds
    except ValidationError:
        return None


class VoiceUsage:
    """The meter of one voice session (one VoiceFront). Call `sent` / `received` for every event, `new_session`
    when a new voice-service session opens (not on a sideband re-attach: the call is the same session)."""

    def __init__(
        self,
        *,
        backend: str,
        session_id: str,
        notify: Callable[[dict[str, Any]], None],
        price: VoicePrice | None = None,
        every_s: float = 2.0,
    ) -> None:
        self.backend = backend
        self.session_id = session_id
        self.transport: Transport = "relay"
        self.price = price
        self.ms_in = 0.0
        self.ms_out = 0.0
        self.tokens = TokenCounts()
        self.started = time.monotonic()
        self._notify = notify
        self.every_s = every_s
        self._live_ended_s = 0.0  # GPT-Live sessions already closed (renewals on the relay)
        self._live_now_s = 0.0  # the current GPT-Live session's latest cumulative report
        self._speech_from_ms: int | None = None
        self._published = (0.0, 0.0, 0.0)  # what Prometheus has: ms in, ms out, usd
        self._last_told: dict[str, Any] | None = None
        self._last_tick = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # ---- what was seen ----------------------------------------------------------------------------------
    def sent(self, event: dict[str, Any]) -> None:
        field = SENT_AUDIO.get(str(event.get("type")))
        if field is not None and self.transport == "relay":
            self.ms_in += _b64_ms(event.get(field))
            self._changed()

    def received(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        if kind in RECEIVED_AUDIO:
            if self.transport == "relay":
                self.ms_out += _b64_ms(event.get(RECEIVED_AUDIO[kind]))
                self._changed()
        elif kind == "response.done":
            self._response_done(event.get("response") or {})
        elif kind in LIVE_USAGE_EVENTS:
            seconds = live_seconds(event)
            if seconds is not None and seconds > self._live_now_s:
                self._live_now_s = seconds
                self._changed()
        elif self.transport == "webrtc":
            self._reported_speech(kind, event)

    def _response_done(self, response: dict[str, Any]) -> None:
        tokens = response_tokens(response.get("usage"))
        self.tokens.add(tokens)
        if self.transport == "webrtc":
            self.ms_out += tokens.audio_out / OUTPUT_AUDIO_TOKENS_PER_S * 1000
        self._changed()

    def _reported_speech(self, kind: str, event: dict[str, Any]) -> None:
        if kind == "input_audio_buffer.speech_started":
            self._speech_from_ms = _int(event.get("audio_start_ms"))
        elif kind == "input_audio_buffer.speech_stopped" and self._speech_from_ms is not None:
            end = _int(event.get("audio_end_ms"))
            if end is not None:
                self.ms_in += max(0, end - self._speech_from_ms)
                self._speech_from_ms = None
                self._changed()
        elif kind in ("session.input_transcript.delta", "session.output_transcript.delta"):
            start, end = _int(event.get("start_ms")), _int(event.get("end_ms"))
            if start is not None and end is not None and end > start:
                if kind == "session.input_transcript.delta":
                    self.ms_in += end - start
                else:
                    self.ms_out += end - start
                self._changed()

    def new_session(self) -> None:
        """A new voice-service session (the relay's reconnect or renewal): its duration counts from zero."""
        self._live_ended_s += self._live_now_s
        self._live_now_s = 0.0

    # ---- figures ----------------------------------------------------------------------------------------
    @property
    def billed_minutes(self) -> float | None:
        if self.backend != "live":
            return None
        return (self._live_ended_s + self._live_now_s) / 60

    @property
    def usd(self) -> float | None:
        if self.price is None:
            return None
        return self.tokens.usd(self.price) + (self.billed_minutes or 0.0) * self.price.per_minute

    def snapshot(self) -> dict[str, Any]:
        """The `voice.usage` message (app/core/voice_protocol.py VoiceUsageOut)."""
        usd = self.usd
        billed = self.billed_minutes
        return {
            "type": "voice.usage",
            "session_id": self.session_id,
            "backend": self.backend,
            "transport": self.transport,
            "minutes_in": round(self.ms_in / 60_000, 4),
            "minutes_out": round(self.ms_out / 60_000, 4),
            "billed_minutes": None if billed is None else round(billed, 4),
            "input_tokens": self.tokens.input,
            "output_tokens": self.tokens.output,
            "usd": None if usd is None else round(usd, 6),
        }

    # ---- telling ----------------------------------------------------------------------------------------
    def _changed(self) -> None:
        if self._timer is not None or self._closed:
            return
        delay = max(0.0, self._last_tick + self.every_s - time.monotonic())
        try:
            self._timer = asyncio.get_running_loop().call_later(delay, self._tick)
        except RuntimeError:  # no loop (a unit test feeding events by hand): tick at close
            return

    def _tick(self) -> None:
        self._timer = None
        self._last_tick = time.monotonic()
        self._publish()
        told = self.snapshot()
        if told != self._last_told:
            self._last_told = told
            self._notify(told)

    def _publish(self) -> None:
        """Give Prometheus what rose since the last time."""
        ms_in, ms_out, usd = self._published
        labels = {"backend": self.backend, "transport": self.transport}
        if self.ms_in > ms_in:
            metrics.VOICE_MINUTES.labels(**labels, direction="in").inc((self.ms_in - ms_in) / 60_000)
        if self.ms_out > ms_out:
            metrics.VOICE_MINUTES.labels(**labels, direction="out").inc((self.ms_out - ms_out) / 60_000)
        now_usd = self.usd or 0.0
        if now_usd > usd:
            metrics.VOICE_COST.labels(**labels).inc(now_usd - usd)
        self._published = (max(ms_in, self.ms_in), max(ms_out, self.ms_out), max(usd, now_usd))

    def close(self) -> None:
        """The session ended: the last figures go to Prometheus and the page (if it still listens)."""
        if self._closed:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._tick()
        self._closed = True


def _b64_ms(data: Any) -> float:
    return len(data) * 3 / 4 / BYTES_PER_MS if isinstance(data, str) else 0.0


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
