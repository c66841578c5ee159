"""/ws/voice: the browser's voice connection. Opening it opens the narrator's realtime session at once.

Browser audio (binary PCM16 24 kHz) goes to the narrator; the narrator's audio, captions, the session's team
events and a masked mirror of the realtime events come back (protocol: app/core/voice_protocol.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket
from pydantic import ValidationError

from agents.events import ErrorCode
from agents.session.team_session import SessionCommandError
from app.api.deps import current_user, get_services
from app.api.ws_edge import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    BoundedOutbox,
    ClientError,
    client_frames,
    decode_json,
    invalid,
    message_type,
    refuse,
)
from app.core.ratelimit import TokenBucket
from app.core.voice_protocol import (
    MAX_AUDIO_FRAME_BYTES,
    VOICE_IN,
    VOICE_IN_TYPES,
    PlaybackIn,
    TeamControlIn,
    TextIn,
)
from app.core.voice_settings import VoiceSettings
from app.realtime.backends import VoiceConnectors, build_connectors, build_voice_front
from app.realtime.narrator.narrator import NarratorSettings
from app.realtime.voice_calls import TooManyCalls
from app.realtime.voice_front import VoiceFront
from app.services import Services
from app.sessions.team_wiring import NO_MODEL_MESSAGE
from app.store.session_table import TooManySessions

log = logging.getLogger(__name__)
router = APIRouter()
OUTBOX_LIMIT = 4000  # frames; a page that stops reading for this long is disconnected
MAX_JSON_FRAME_BYTES = 64 * 1024  # a text frame (typed text, playback marks, team buttons): audio is binary


def voice_error(code: ErrorCode, message: str) -> str:
    return json.dumps({"type": "error", "code": code, "message": message})


@router.websocket("/ws/voice")
async def voice_socket(websocket: WebSocket) -> None:
    services = get_services(websocket)
    await websocket.accept()
    if websocket.query_params.get("call"):
        await follow_call(websocket, services, websocket.query_params["call"])
        return
    try:
        user = current_user(websocket)
    except HTTPException as exc:
        await refuse(websocket, voice_error(ErrorCode.UNAUTHORIZED, str(exc.detail)), CLOSE_POLICY)
        return
    relays = services.voice_calls
    try:
        relays.open_relay(user)  # each socket is a paid upstream session: counted with the user's WebRTC calls
    except TooManyCalls as exc:
        await refuse(websocket, voice_error(ErrorCode.TOO_MANY_SESSIONS, str(exc)), CLOSE_TRY_AGAIN)
        return
    try:
        await _serve_relay(websocket, services, user)
    finally:
        relays.close_relay(user)


async def _serve_relay(websocket: WebSocket, services: Services, user: str) -> None:
    try:
        entry = (await services.registry.attach(websocket.query_params.get("session") or None, user)).entry
    except TooManySessions as exc:
        await refuse(websocket, voice_error(ErrorCode.TOO_MANY_SESSIONS, str(exc)), CLOSE_TRY_AGAIN)
        return
    except ValueError as exc:
        await refuse(websocket, voice_error(ErrorCode.INVALID_MESSAGE, str(exc)), CLOSE_POLICY)
        return
    to_browser = BoundedOutbox(OUTBOX_LIMIT)
    session_id = entry.log.session_id
    to_browser({"type": "voice.state", "state": "connecting", "session_id": session_id})
    writer = asyncio.create_task(to_browser.write(websocket))
    narrator: VoiceFront | None = None
    deps = voice_dependencies(services)
    if deps is None or not services.settings.has_model_access:
        to_browser({"type": "error", "code": ErrorCode.NO_MODEL_ACCESS, "message": NO_MODEL_MESSAGE})
        to_browser({"type": "voice.state", "state": "error", "session_id": session_id, "message": NO_MODEL_MESSAGE})
    else:
        voice, connectors, settings = deps
        narrator = build_voice_front(
            voice=voice,
            connectors=connectors,
            team=entry.session,
            team_log=entry.log,
            to_browser=to_browser,
            redactor=services.redactor,
            narrator_settings=settings,
        )
        await narrator.start()
    try:
        await _read(websocket, narrator, to_browser, services)
    finally:
        if narrator is not None:
            await narrator.close()
        to_browser.end()
        await asyncio.wait({writer}, timeout=2)
        writer.cancel()
        await services.registry.detach(entry)


async def follow_call(websocket: WebSocket, services: Services, call_id: str) -> None:
    """/ws/voice?call=ID: the page's side of its WebRTC call. The narrator runs on the call's sideband; this
    socket carries what it tells the page (state, team events, errors, its event log) and the page's typed text
    and team buttons. No audio: that goes between the browser and the voice service."""
    try:
        user = current_user(websocket)
    except HTTPException as exc:
        await refuse(websocket, voice_error(ErrorCode.UNAUTHORIZED, str(exc.detail)), CLOSE_POLICY)
        return
    call = services.voice_calls.get(call_id, user)
    if call is None:
        await refuse(websocket, voice_error(ErrorCode.NO_SUCH_CALL, "No such voice call."), CLOSE_POLICY)
        return
    outbox = call.output.follow()
    to_browser = BoundedOutbox(OUTBOX_LIMIT, outbox)  # the call's output fills it; the page's pongs and errors too
    writer = asyncio.create_task(to_browser.write(websocket))
    try:
        await _read(websocket, call.front, to_browser, services, audio=False)
    finally:
        call.output.unfollow(outbox)
        await asyncio.wait({writer}, timeout=2)
        writer.cancel()


def voice_dependencies(services: Services) -> tuple[VoiceSettings, VoiceConnectors, NarratorSettings] | None:
    """What the voice front needs from the app's services (None: no model configured)."""
    openai_client = services.openai_client
    if openai_client is None:
        return None
    connectors = build_connectors(
        openai_client,
        realtime_model=services.settings.realtime_model,
        realtime_connect=services.realtime_connect,
    )
    return services.settings.voice, connectors, services.narrator


async def _read(
    websocket: WebSocket, narrator: VoiceFront | None, to_browser: Any, services: Services, *, audio: bool = True
) -> None:
    settings = services.settings
    bucket = TokenBucket(rate=settings.voice_rate_per_s, burst=settings.voice_rate_burst)
    async for frame in client_frames(websocket):
        try:
            if not bucket.take():
                raise ClientError(ErrorCode.RATE_LIMITED, "Too many messages.")
            if frame.get("bytes") is not None and not audio:
                raise ClientError(ErrorCode.BINARY_NOT_SUPPORTED, "On a WebRTC call the audio goes over WebRTC.")
            if frame.get("bytes") is not None:
                pcm = frame["bytes"]
                if len(pcm) > MAX_AUDIO_FRAME_BYTES or len(pcm) % 2:
                    raise ClientError(
                        ErrorCode.INVALID_AUDIO,
                        f"Audio frames are PCM16 (even length), at most {MAX_AUDIO_FRAME_BYTES} bytes.",
                    )
                if narrator is not None:
                    await narrator.audio_in(pcm)
                continue
            await _handle_json(frame.get("text") or "", narrator, to_browser)
        except ClientError as bad:
            to_browser({"type": "error", "code": bad.code, "message": bad.message})
        except SessionCommandError as refused:
            to_browser({"type": "error", "code": refused.code, "message": refused.message})
        except Exception:
            log.exception("ws/voice message failed")
            to_browser(
                {"type": "error", "code": ErrorCode.INTERNAL_ERROR, "message": "That message could not be handled."}
            )


async def _handle_json(text: str, narrator: VoiceFront | None, to_browser: Any) -> None:
    payload = decode_json(text, MAX_JSON_FRAME_BYTES)
    message_type(payload, VOICE_IN_TYPES)
    try:
        message = VOICE_IN.validate_python(payload)
    except ValidationError as exc:
        raise invalid(exc) from None
    if message.type == "ping":
        to_browser({"type": "pong"})
        return
    if narrator is None:
        raise ClientError(ErrorCode.NO_MODEL_ACCESS, NO_MODEL_MESSAGE)
    if isinstance(message, TextIn):
        await narrator.text_in(message.text.strip())
    elif isinstance(message, PlaybackIn):
        await narrator.playback(message.item_id, message.played_ms)
    elif isinstance(message, TeamControlIn):
        await narrator.team_control(message.type.removeprefix("team."))
