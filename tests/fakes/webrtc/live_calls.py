"""GPT-Live over WebRTC: `POST /v1/live/sessions` with `transport: {type: webrtc, sdp}` answers with the session
id and the SDP answer (aiortc on loopback, as for Realtime calls in webrtc.py). The session starts with the call
(`session.started` on the data channel); the sideband attaches at `/v1/live/sessions/{id}/attach` and must not
send session.start again. Audio: the caller's microphone over RTP, the Live model's speech
(`session.output_audio.delta`) on the call's audio track."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.common.ids import new_id
from tests.fakes.live.session import LiveConnection
from tests.fakes.live.validation import validate_live_client_event
from tests.fakes.webrtc.audio import PcmOutTrack
from tests.fakes.webrtc.calls import MAX_CALLS, CallsFake, CallSocket, _error

if TYPE_CHECKING:  # pragma: no cover
    from tests.fakes.live.fake import LiveFake

__all__ = ["LiveCallsFake"]


class LiveCallsFake(CallsFake):
    def __init__(self, hub: LiveFake) -> None:
        super().__init__(hub)  # type: ignore[arg-type]

    async def create(self, request: Request) -> Response:
        if self.refuse is not None:
            self.refused += 1
            return _error(self.refuse, "WebRTC sessions are not available here.")
        try:
            body = json.loads(await request.body())
            session, transport = body["session"], body["transport"]
            offer = str(transport["sdp"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "Expected {session, transport: {type: webrtc, sdp}}.")
        if transport.get("type") != "webrtc" or not offer.startswith("v=0"):
            return _error(400, "Invalid 'transport'.", "transport")
        issues = validate_live_client_event({"type": "session.start", "session": session})
        if issues:
            self.session_problems.append(f"{issues[0].code}: {issues[0].message}")
            return _error(400, issues[0].message, issues[0].param)
        if len([c for c in self.calls.values() if not c.ended]) >= MAX_CALLS:
            return _error(429, "Too many sessions.")
        hub: Any = self.hub
        socket = CallSocket(PcmOutTrack(), audio_event="session.output_audio.delta")
        conn = LiveConnection(hub, socket, index=hub._next_index(), transport=None)  # type: ignore[arg-type]
        socket.reflect_clock = conn.clock_ms  # the sideband gets the call's audio both ways, like GPT-Live's
        call = await self._answer(conn.session_id, offer, socket)
        if isinstance(call, Response):
            return call
        call.conn = conn
        hub._attach(conn)
        self.calls[call.call_id] = call
        await conn._on_session_start({"type": "session.start", "event_id": new_id("event"), "session": session})
        call.spawn(self._run(call, conn))
        return JSONResponse(
            {"session": {"id": conn.session_id}, "transport": {"type": "webrtc", "sdp": call.pc.localDescription.sdp}}
        )
