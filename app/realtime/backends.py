"""Building the voice front of one /ws/voice connection: which backend speaks, and how it connects.

`build_connectors` is the one place the Realtime and GPT-Live sockets are made from the OpenAI client and the
settings; `build_voice_front` picks the backend from `VOICE_API`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.redaction import Redactor
from app.core.voice_settings import VoiceSettings
from app.realtime.live.narrator import LiveNarrator
from app.realtime.narrator.narrator import Narrator, NarratorSettings
from app.realtime.team_control import TeamControl
from app.realtime.transport import Connect
from app.realtime.voice_front import ToBrowser, VoiceFront
from app.store.event_log import SessionEventLog


@dataclass(frozen=True)
class VoiceConnectors:
    realtime: Connect
    live: Connect
    openai_client: Any = None  # for GPT-Live's intent model (a chat completion with structured output)
    realtime_model: str = ""  # the Realtime model's name, for its price (VOICE_PRICES)


def build_connectors(
    openai_client: Any, *, realtime_model: str, realtime_connect: Connect | None = None
) -> VoiceConnectors:
    """Realtime: `client.realtime.connect(model=...)` (or the app's own `realtime_connect`, as app/main.py
    builds it today); GPT-Live: `client.live.connect()` (the model goes in session.start, not in the URL)."""
    return VoiceConnectors(
        realtime=realtime_connect or (lambda: openai_client.realtime.connect(model=realtime_model)),
        live=lambda: openai_client.live.connect(),
        openai_client=openai_client,
        realtime_model=realtime_model,
    )


def build_voice_front(
    *,
    voice: VoiceSettings,
    connectors: VoiceConnectors,
    team: TeamControl,
    team_log: SessionEventLog,
    to_browser: ToBrowser,
    redactor: Redactor,
    narrator_settings: NarratorSettings,
) -> VoiceFront:
    front = _front(voice, connectors, team, team_log, to_browser, redactor, narrator_settings)
    model = voice.live_model if voice.voice_api == "live" else connectors.realtime_model
    front.usage.price = voice.voice_prices.get(model)
    front.usage.every_s = voice.voice_usage_every_s
    return front


def _front(
    voice: VoiceSettings,
    connectors: VoiceConnectors,
    team: TeamControl,
    team_log: SessionEventLog,
    to_browser: ToBrowser,
    redactor: Redactor,
    narrator_settings: NarratorSettings,
) -> VoiceFront:
    if voice.voice_api == "live":
        return LiveNarrator(
            connect=connectors.live,
            team=team,
            team_log=team_log,
            to_browser=to_browser,
            redactor=redactor,
            settings=voice,
            reconnect_delays_s=narrator_settings.reconnect_delays_s,
            openai_client=connectors.openai_client,
        )
    return Narrator(
        connect=connectors.realtime,
        team=team,
        team_log=team_log,
        to_browser=to_browser,
        redactor=redactor,
        settings=narrator_settings,
    )
