"""WebRTC voice: the page posts its SDP offer, we create the call with the API key and run the narrator on
the call's sideband. The browser's audio goes straight to OpenAI; only the SDP answer (and a call id, useless
without the key) comes back to the page, never the key or a client secret.

    GET    /voice/config            which transport and backend the page should use
    POST   /voice/calls?session=ID  body: SDP offer (application/sdp) -> SDP answer, X-Call-Id, X-Session-Id
    DELETE /voice/calls/{call_id}   hang up (ends the narrator; the team session stays)
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from app.api.deps import ServicesDep, UserDep
from app.api.voice_ws import voice_dependencies
from app.core.voice_settings import VoiceSettings
from app.realtime.backends import VoiceConnectors, build_voice_front
from app.realtime.narrator.narrator import NarratorSettings
from app.realtime.voice_calls import CallOutput, TooManyCalls, VoiceCall, VoiceCalls
from app.realtime.webrtc_call import (
    MAX_SDP_BYTES,
    CallRefused,
    call_session,
    create_live_call,
    create_realtime_call,
    live_call_session,
    live_sideband,
    realtime_sideband,
)
from app.services import Services
from app.store.session_table import TooManySessions

log = logging.getLogger(__name__)


router = APIRouter()


def webrtc_available(services: Services) -> bool:
    """WebRTC is offered when configured (both backends have it)."""
    return services.settings.voice.voice_transport == "webrtc"


class VoiceConfig(BaseModel):
    transport: Literal["webrtc", "relay"]
    backend: Literal["realtime", "live"]
    model_access: bool


class NoSuchCall(BaseModel):
    detail: str


@router.get("/voice/config", operation_id="voice_config", response_model=VoiceConfig)
async def voice_config(services: ServicesDep, user: UserDep) -> VoiceConfig:
    return VoiceConfig(
        transport="webrtc" if webrtc_available(services) else "relay",
        backend=services.settings.voice.voice_api,
        model_access=services.settings.has_model_access,
    )


async def _offer(request: Request) -> str:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SDP_BYTES:
            raise HTTPException(status_code=413, detail=f"An SDP offer is at most {MAX_SDP_BYTES} bytes.")
    text = body.decode("utf-8", errors="replace")
    if not text.startswith("v=0"):
        raise HTTPException(status_code=400, detail="The body must be an SDP offer (application/sdp).")
    return text


# The body is SDP, not JSON: left out of the OpenAPI schema (like GET /session); its refusals are tested in
# tests/app/realtime/test_webrtc_voice.py.
@router.post("/voice/calls", operation_id="create_voice_call", status_code=201, include_in_schema=False)
async def create_voice_call(request: Request, services: ServicesDep, user: UserDep) -> Response:
    deps = voice_dependencies(services)
    if deps is None or not services.settings.has_model_access:
        raise HTTPException(status_code=503, detail="No model is configured: set OPENAI_API_KEY on the server.")
    if not webrtc_available(services):
        raise HTTPException(status_code=409, detail="This server's voice runs over /ws/voice (the relay).")
    if not services.voice_call_buckets.take(user):
        raise HTTPException(status_code=429, detail="Too many voice calls; try again in a minute.")
    calls = services.voice_calls
    try:
        calls.reserve(user)
    except TooManyCalls as exc:
        raise HTTPException(status_code=429, detail=str(exc)) from None
    try:
        return await _create_call(request, services, user, calls, deps)
    finally:
        calls.unreserve(user)


async def _create_call(
    request: Request,
    services: Services,
    user: str,
    calls: VoiceCalls,
    deps: tuple[VoiceSettings, VoiceConnectors, NarratorSettings],
) -> Response:
    offer = await _offer(request)
    try:
        attached = await services.registry.attach(request.query_params.get("session") or None, user)
    except (ValueError, TooManySessions) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    entry = attached.entry
    voice, connectors, narrator_settings = deps
    settings = services.settings
    client = connectors.openai_client
    live = voice.voice_api == "live"
    try:
        if live:
            created = await create_live_call(
                client,
                offer,
                live_call_session(
                    model=voice.live_model,
                    voice=voice.live_voice,
                    acknowledgement_delay_ms=voice.live_acknowledgement_delay_ms,
                ),
            )
        else:
            created = await create_realtime_call(
                client,
                offer,
                call_session(
                    model=settings.realtime_model,
                    voice=narrator_settings.voice,
                    transcription_model=narrator_settings.transcription_model,
                ),
            )
    except CallRefused as exc:
        await services.registry.detach(entry)
        log.warning("the voice service refused a WebRTC call: %s", exc)
        raise HTTPException(status_code=502, detail="The voice service refused the call; use the relay.") from None
    output = CallOutput(captions=live)
    sideband = (
        dataclasses.replace(connectors, live=live_sideband(client, created.call_id))
        if live
        else dataclasses.replace(connectors, realtime=realtime_sideband(client, created.call_id))
    )
    front = build_voice_front(
        voice=voice,
        connectors=sideband,
        team=entry.session,
        team_log=entry.log,
        to_browser=output,
        redactor=services.redactor,
        narrator_settings=narrator_settings,
    )
    front.run_as_sideband(on_gone=lambda: calls.end_soon(created.call_id))
    calls.add(
        VoiceCall(
            call_id=created.call_id,
            owner=user,
            session_id=entry.log.session_id,
            front=front,
            output=output,
            release=lambda: services.registry.detach(entry),
            hangup=(
                (lambda: client.live.sessions.hangup(created.call_id))
                if live
                else (lambda: client.realtime.calls.hangup(created.call_id))
            ),
        )
    )
    await front.start()
    log.info("voice call started", extra={"session_id": entry.log.session_id})
    return Response(
        content=created.answer_sdp,
        status_code=201,
        media_type="application/sdp",
        headers={"X-Call-Id": created.call_id, "X-Session-Id": entry.log.session_id},
    )


@router.delete(
    "/voice/calls/{call_id}",
    operation_id="end_voice_call",
    status_code=204,
    responses={404: {"model": NoSuchCall, "description": "No such call of yours."}},
)
async def end_voice_call(call_id: str, services: ServicesDep, user: UserDep) -> Response:
    calls = services.voice_calls
    if calls.get(call_id, user) is None:
        raise HTTPException(status_code=404, detail="No such voice call.")
    await calls.end(call_id)
    return Response(status_code=204)
