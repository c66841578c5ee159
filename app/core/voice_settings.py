"""The voice front's section of the settings (`settings.voice`): which backend speaks, the GPT-Live model and
voice, voice sessions per user. Read from the environment and `.env` under the same names as always."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.default_models import DEFAULT_LIVE_MODEL, DEFAULT_TEAM_MODEL
from app.core.prices import VoicePrice, default_voice_prices

log = logging.getLogger(__name__)


class VoiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    voice_api: Literal["realtime", "live"] = "realtime"
    """`realtime`: the GA Realtime protocol (works with Realtime-compatible servers too); `live`: GPT-Live
    client delegation (OpenAI's recommended API for new voice applications; OpenAI only)."""
    voice_transport: Literal["webrtc", "relay"] = "webrtc"
    """`webrtc`: the page's audio goes straight to OpenAI over WebRTC and the server runs the narrator on a
    sideband socket of the same call (audio never passes through us); `relay`: /ws/voice carries the audio
    (for Realtime-compatible servers without WebRTC). The page falls back to the relay if WebRTC fails."""
    voice_sessions_per_user: int = Field(default=4, ge=1)
    """Voice sessions one user may hold at once, relay sockets and WebRTC calls together: each is a paid
    upstream session on the server's key."""
    voice_calls_per_user: int | None = Field(default=None, ge=1)
    """The old name of VOICE_SESSIONS_PER_USER (it counted WebRTC calls only); still read, with a warning."""
    voice_calls_max: int = 200
    """WebRTC calls the server holds at once."""
    live_model: str = DEFAULT_LIVE_MODEL
    live_voice: str = "marin"
    live_acknowledgement_delay_ms: int = 400
    """How long GPT-Live waits for our thinking/commentary before it speaks an acknowledgement itself."""
    live_session_max_s: float = 110 * 60.0
    """GPT-Live sessions end after about 2 h: renew (with context) before that, at a quiet moment."""
    live_progress_every_s: float = 8.0
    """At most one silent progress note (session.thinking.append) per this many seconds of a run."""
    live_intent_model: str = DEFAULT_TEAM_MODEL
    """Asked (structured output) only when a delegated turn during a run looks like a task but holds a control
    word; plain questions and the short control phrases are decided by rule."""

    voice_prices: dict[str, VoicePrice] = Field(default_factory=default_voice_prices)
    """USD by voice model, JSON: {"gpt-realtime": {"audio_input": 32, "audio_output": 64, ...}} per million
    tokens, {"gpt-live-1": {"per_minute": 0.05}}. Replaces the table in app/core/prices.py; a model without a price
    leaves the voice cost unknown (null), never a guess."""
    voice_usage_every_s: float = Field(default=2.0, gt=0)
    """At most one `voice.usage` message (minutes and USD so far) per this many seconds, and only on a change."""

    @model_validator(mode="after")
    def _renamed(self) -> VoiceSettings:
        if self.voice_calls_per_user is not None:
            log.warning("VOICE_CALLS_PER_USER is now VOICE_SESSIONS_PER_USER (relay and WebRTC together); rename it")
            if "voice_sessions_per_user" not in self.model_fields_set:
                self.voice_sessions_per_user = self.voice_calls_per_user
        return self
