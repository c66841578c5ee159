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
from starlette.websockets import WebSocketDisconnect

from agents.events import ErrorCode
from agents.session.team_session import SessionCommandError
from app.api.deps import current_user, get_services
from app.api.ws_edge import client_frames
from app.core.protocol import printable
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
        await websocket.send_json({"type": "error", "code": ErrorCode.UNAUTHORIZED, "message": str(exc.detail)})
        await websocket.close(code=1008)
        return
    relays = services.voice_calls
    try:
        relays.open_relay(user)  # each socket is a paid upstream session: counted with the user's WebRTC calls
    except TooManyCalls as exc:
        await websocket.send_json({"type": "error", "code": ErrorCode.TOO_MANY_SESSIONS, "message": str(exc)})
        await websocket.close(code=1013)
        return
    try:
        await _serve_relay(websocket, services, user)
    finally:
        relays.close_relay(user)


async def _serve_relay(websocket: WebSocket, services: Services, user: str) -> None:
    try:
        entry = (await services.registry.attach(websocket.query_params.get("session") or None, user)).entry
    except TooManySessions as exc:
        await websocket.send_json({"type": "error", "code": ErrorCode.TOO_MANY_SESSIONS, "message": str(exc)})
        await websocket.close(code=1013)
        return
    except ValueError as exc:
        await websocket.send_json({"type": "error", "code": ErrorCode.INVALID_MESSAGE, "message": str(exc)})
        await websocket.close(code=1008)
        return
    outbox: asyncio.Queue[dict[str, Any] | bytes | str | None] = asyncio.Queue()
    overflow = asyncio.Event()

    def to_browser(message: dict[str, Any] | bytes | str) -> None:
        if outbox.qsize() >= OUTBOX_LIMIT:
            overflow.set()
            return
        outbox.put_nowait(message)

    session_id = entry.log.session_id
    to_browser({"type": "voice.state", "state": "connecting", "session_id": session_id})
    writer = asyncio.create_task(_write(websocket, outbox, overflow))
    narrator: VoiceFront | None = None
    deps = voice_dependencies(services)
    if deps is None or not services.settings.has_model_access:
        to_browser({"type": "error", "code": "no_model_access", "message": NO_MODEL_MESSAGE})
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
        outbox.put_nowait(None)
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
        await websocket.send_json({"type": "error", "code": "unauthorized", "message": str(exc.detail)})
        await websocket.close(code=1008)
        return
    call = services.voice_calls.get(call_id, user)
    if call is None:
        await websocket.send_json({"type": "error", "code": "no_such_call", "message": "No such voice call."})
        await websocket.close(code=1008)
        return
    outbox = call.output.follow()
    overflow = asyncio.Event()

    def to_browser(message: dict[str, Any] | bytes | str) -> None:
        if outbox.qsize() >= OUTBOX_LIMIT:
            overflow.set()
            return
        outbox.put_nowait(message)

    writer = asyncio.create_task(_write(websocket, outbox, overflow))
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


async def _write(websocket: WebSocket, outbox: asyncio.Queue[Any], overflow: asyncio.Event) -> None:
    try:
        while (message := await outbox.get()) is not None:
            if overflow.is_set():
                await websocket.close(code=1013, reason="the page stopped reading")
                return
            if isinstance(message, bytes):
                await websocket.send_bytes(message)
            else:  # text: lone surrogates (a JSON API's "\ud800", decoded) cannot be sent as UTF-8
                text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
                await websocket.send_text(printable(text))
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return


async def _read(
    websocket: WebSocket, narrator: VoiceFront | None, to_browser: Any, services: Services, *, audio: bool = True
) -> None:
    settings = services.settings
    bucket = TokenBucket(rate=settings.voice_rate_per_s, burst=settings.voice_rate_burst)
    async for frame in client_frames(websocket):
        try:
            if not bucket.take():
                raise VoiceInputError("rate_limited", "Too many messages.")
            if frame.get("bytes") is not None and not audio:
                raise VoiceInputError("binary_not_supported", "On a WebRTC call the audio goes over WebRTC.")
            if frame.get("bytes") is not None:
                pcm = frame["bytes"]
                if len(pcm) > MAX_AUDIO_FRAME_BYTES or len(pcm) % 2:
                    raise VoiceInputError(
                        "invalid_audio", f"Audio frames are PCM16 (even length), at most {MAX_AUDIO_FRAME_BYTES} bytes."
                    )
                if narrator is not None:
                    await narrator.audio_in(pcm)
                continue
            await _handle_json(frame.get("text") or "", narrator, to_browser)
        except VoiceInputError as bad:
            to_browser({"type": "error", "code": bad.code, "message": bad.message})
        except SessionCommandError as refused:
            to_browser({"type": "error", "code": refused.code, "message": refused.message})
        except Exception:
            log.exception("ws/voice message failed")
            to_browser({"type": "error", "code": "internal_error", "message": "That message could not be handled."})


class VoiceInputError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


async def _handle_json(text: str, narrator: VoiceFront | None, to_browser: Any) -> None:
    if len(text) > 64 * 1024:
        raise VoiceInputError("frame_too_large", "Frame larger than 65536 bytes.")
    try:
        payload = json.loads(text)
    except ValueError:
        raise VoiceInputError("invalid_json", "The frame is not valid JSON.") from None
    except RecursionError:
        raise VoiceInputError("invalid_message", "The JSON is nested too deeply.") from None
    if not isinstance(payload, dict) or "type" not in payload:
        raise VoiceInputError("invalid_message", "Expected a JSON object with a 'type' field.")
    kind = payload["type"]
    if not isinstance(kind, str) or kind not in VOICE_IN_TYPES:  # a list or object type is not hashable
        raise VoiceInputError("unknown_type", f"Unknown message type '{str(kind)[:40]}'.")
    try:
        message = VOICE_IN.validate_python(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise VoiceInputError("invalid_message", f"{'.'.join(map(str, first['loc'][1:]))}: {first['msg']}") from None
    if message.type == "ping":
        to_browser({"type": "pong"})
        return
    if narrator is None:
        raise VoiceInputError("no_model_access", NO_MODEL_MESSAGE)
    if isinstance(message, TextIn):
        await narrator.text_in(message.text.strip())
    elif isinstance(message, PlaybackIn):
        await narrator.playback(message.item_id, message.played_ms)
    elif isinstance(message, TeamControlIn):
        await narrator.team_control(message.type.removeprefix("team."))
