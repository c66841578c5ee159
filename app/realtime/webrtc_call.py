"""Creating a WebRTC call for the page with the server's API key, and the sideband that attaches to it.

Realtime: `POST /v1/realtime/calls` (multipart: the page's SDP offer and our session config) answers with the
SDP answer; the call id is the last segment of its `Location` header. The sideband is then
`client.realtime.connect(call_id=...)`: the same GA events as the relay's socket, without audio.
GPT-Live: `client.live.create(session=..., transport={"type": "webrtc", "sdp": ...})` answers with the session
id and the SDP answer; the sideband is `client.live.sideband.connect(session_id=...)` (no session.start: the
session started with the call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.realtime.live.config import session_start
from app.realtime.narrator.session_config import session_update
from app.realtime.transport import Connect

MAX_SDP_BYTES = 64 * 1024


class CallRefused(Exception):
    """The voice service did not accept the call (bad offer, no access, unreachable)."""


@dataclass(frozen=True)
class CreatedCall:
    call_id: str
    answer_sdp: str


def call_session(*, model: str, voice: str, transcription_model: str) -> dict[str, Any]:
    """The session the call starts with (the sideband sends the same as session.update when it attaches)."""
    session: dict[str, Any] = session_update(voice=voice, transcription_model=transcription_model)["session"]
    return {**session, "model": model}


async def create_realtime_call(openai_client: Any, offer_sdp: str, session: dict[str, Any]) -> CreatedCall:
    try:
        raw = await openai_client.realtime.calls.with_raw_response.create(sdp=offer_sdp, session=session)
    except Exception as exc:  # any refusal or network failure: the page falls back to the relay
        raise CallRefused(type(exc).__name__) from exc
    location = raw.headers.get("location") or ""
    call_id = location.rstrip("/").rsplit("/", 1)[-1]
    answer = raw.http_response.text
    if not call_id or not answer.startswith("v="):
        raise CallRefused("the voice service answered without a call id or an SDP answer")
    return CreatedCall(call_id, answer)


def realtime_sideband(openai_client: Any, call_id: str) -> Connect:
    """Attach (and re-attach after a drop) to the call's sideband by its id."""
    return lambda: openai_client.realtime.connect(call_id=call_id)


def live_call_session(*, model: str, voice: str, acknowledgement_delay_ms: int) -> dict[str, Any]:
    """The Live session the call starts with; WebRTC negotiates the audio format, so only the voice is set."""
    session: dict[str, Any] = session_start(
        model=model, voice=voice, acknowledgement_delay_ms=acknowledgement_delay_ms
    )["session"]
    return {**session, "audio": {"output": {"voice": voice}}}


async def create_live_call(openai_client: Any, offer_sdp: str, session: dict[str, Any]) -> CreatedCall:
    try:
        created = await openai_client.live.create(session=session, transport={"type": "webrtc", "sdp": offer_sdp})
    except Exception as exc:  # any refusal or network failure: the page falls back to the relay
        raise CallRefused(type(exc).__name__) from exc
    if not created.session.id or not created.transport.sdp.startswith("v="):
        raise CallRefused("the voice service answered without a session id or an SDP answer")
    return CreatedCall(created.session.id, created.transport.sdp)


def live_sideband(openai_client: Any, session_id: str) -> Connect:
    return lambda: openai_client.live.sideband.connect(session_id=session_id)
