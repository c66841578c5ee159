"""The /ws/voice protocol between the browser voice page and the server (the narrator's front door).

Binary frames carry audio both ways: PCM16 little-endian, mono, 24 kHz. Everything else is JSON text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

AUDIO_RATE = 24_000
MAX_AUDIO_FRAME_BYTES = 64 * 1024


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _not_blank(value: str) -> str:
    """Whitespace only would reach the realtime session as an empty user message (and a response)."""
    if not value.strip():
        raise ValueError("the text is blank")
    return value


class TextIn(_In):
    """Typed text for the narrator (works without a microphone)."""

    type: Literal["text"]
    text: Annotated[str, AfterValidator(_not_blank)] = Field(min_length=1, max_length=8000)


class PlaybackIn(_In):
    """How much of an assistant audio item the page actually played (after playback.stop, or at its end)."""

    type: Literal["playback"]
    item_id: str = Field(min_length=1, max_length=128)
    played_ms: int = Field(ge=0)


class TeamControlIn(_In):
    """The page's pause/resume/cancel buttons: the person's own request, always honoured."""

    type: Literal["team.pause", "team.resume", "team.cancel"]


class PingIn(_In):
    type: Literal["ping"]


VoiceIn = Annotated[TextIn | PlaybackIn | TeamControlIn | PingIn, Field(discriminator="type")]
VOICE_IN = TypeAdapter(VoiceIn)
VOICE_IN_TYPES = frozenset({"text", "playback", "team.pause", "team.resume", "team.cancel", "ping"})


# ---- server -> browser (documented; built as dicts) -------------------------------------------------------
class _Out(BaseModel):
    """Server -> browser messages: exactly these fields (the published schema says additionalProperties false,
    so a field the server adds without documenting it fails the conformance test)."""

    model_config = ConfigDict(extra="forbid")


class VoiceStateOut(_Out):
    type: Literal["voice.state"]
    state: Literal["connecting", "ready", "reconnecting", "closed", "error"]
    session_id: str
    backend: Literal["realtime", "live"] | None = None
    """Which voice API speaks: the Realtime API or GPT-Live."""
    message: str | None = None


class CaptionOut(_Out):
    """Live captions: `delta` pieces while speaking, then one message with the full `text` and final=true."""

    type: Literal["caption"]
    role: Literal["user", "assistant"]
    item_id: str
    delta: str | None = None
    text: str | None = None
    final: bool = False


class AudioStartOut(_Out):
    """The binary audio frames that follow belong to this assistant item."""

    type: Literal["audio.start"]
    item_id: str


class PlaybackStopOut(_Out):
    """Barge-in: drop queued audio now and answer with a `playback` message saying how much was played."""

    type: Literal["playback.stop"]


class TeamOut(_Out):
    """A /ws/team event of this session (run_started, TextMessage, ToolCallRequestEvent, run_finished, ...)."""

    type: Literal["team"]
    event: dict[str, Any]


class RealtimeLogOut(_Out):
    """One row of the mirrored realtime event log: ▲ sent / ▼ received. Audio payloads are replaced by their
    size, secrets are masked."""

    type: Literal["realtime.log"]
    dir: Literal["sent", "received"]
    name: str
    time: str
    data: dict[str, Any]


class ErrorOut(_Out):
    type: Literal["error"]
    code: str = Field(
        description="One of /protocol.json's error_codes; for an error of the voice service itself, "
        "that service's own code (e.g. conversation_already_has_active_response)."
    )
    message: str


class VoiceUsageOut(_Out):
    """This voice session's audio and cost so far: sent when they change, at most every VOICE_USAGE_EVERY_S
    (never per audio frame). Minutes: relay, the audio carried; WebRTC, the speech the service reports."""

    type: Literal["voice.usage"]
    session_id: str
    backend: Literal["realtime", "live"]
    transport: Literal["relay", "webrtc"]
    minutes_in: float = Field(ge=0, description="The person's audio (minutes).")
    minutes_out: float = Field(ge=0, description="The narrator's audio (minutes).")
    billed_minutes: float | None = Field(
        default=None, ge=0, description="GPT-Live: the session duration the service reports (what it bills)."
    )
    input_tokens: int = Field(ge=0, description="Realtime: input tokens the service reported (cached included).")
    output_tokens: int = Field(ge=0)
    usd: float | None = Field(description="Cost so far; null when the voice model has no price.")


class PongOut(_Out):
    type: Literal["pong"]


VoiceOut = Annotated[
    VoiceStateOut
    | CaptionOut
    | AudioStartOut
    | PlaybackStopOut
    | TeamOut
    | RealtimeLogOut
    | VoiceUsageOut
    | ErrorOut
    | PongOut,
    Field(discriminator="type"),
]
VOICE_OUT = TypeAdapter(VoiceOut)
