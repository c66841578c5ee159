"""The fake answers WebRTC calls like `POST /v1/realtime/calls`, with a real WebRTC stack (aiortc) on loopback.

One call is one realtime session (a `RealtimeConnection`) whose "socket" is a `CallSocket`:
- the caller's microphone arrives as RTP audio and goes to the session's input audio (and its VAD);
- the session's audio (`response.output_audio.delta`) goes out on an RTP track instead of as events;
- every other server event goes to the `oai-events` data channel and to the attached sideband WebSocket
  (`/v1/realtime?call_id=...`), and client events from either are handled (and validated) the same way.
The sideband can drop and re-attach; the call ends on hangup or when the caller's peer connection closes, and
then attaching is refused (404), as for a call that no longer exists.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket

from tests.fakes.common.ids import new_id
from tests.fakes.realtime.connection import RealtimeConnection
from tests.fakes.realtime.session_config import merge_session
from tests.fakes.realtime.validation import validate_client_event
from tests.fakes.webrtc.audio import PcmFromRtp, PcmOutTrack

if TYPE_CHECKING:  # pragma: no cover
    from tests.fakes.realtime.fake import RealtimeFake

__all__ = ["CallsFake", "FakeCall"]
log = logging.getLogger(__name__)
CHANNEL_BACKLOG = 256  # server events kept for the data channel until it opens
INBOX_LIMIT = 1000
MAX_CALLS = 100


class CallSocket:
    """Stands in for the Starlette WebSocket of a call's `RealtimeConnection` (see the module docstring)."""

    def __init__(
        self,
        out_track: PcmOutTrack,
        audio_event: str = "response.output_audio.delta",
        reflect_clock: Callable[[], int] | None = None,
    ) -> None:
        self.out_track = out_track
        self.audio_event = audio_event
        self.reflect_clock = reflect_clock
        """GPT-Live: the sideband also gets the call's audio ("reflected", stamped on the session's clock)."""
        self.channel: Any = None
        self.sideband: WebSocket | None = None
        self.sideband_transport: Any = None
        self.backlog: list[str] = []
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(INBOX_LIMIT)
        self.channel_messages = 0
        self.channel_texts: list[str] = []
        """Every text the data channel carried to the caller (for checks that no secret ever does)."""

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    def put(self, text: str) -> None:
        if self.inbox.full():
            return  # a client flooding the call: the excess is lost, like on a saturated link
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    def open_channel(self, channel: Any) -> None:
        self.channel = channel
        for text in self.backlog:
            self._to_channel(text)
        self.backlog.clear()

    def _to_channel(self, text: str) -> None:
        if len(self.channel_texts) < 20_000:
            self.channel_texts.append(text)
        self.channel_messages += 1
        self.channel.send(text)

    async def send_text(self, text: str) -> None:
        event = json.loads(text)
        if event.get("type") == self.audio_event:  # audio rides RTP, not events
            pcm = base64.b64decode(event.get("delta") or "")
            self.out_track.push(pcm)
            if self.reflect_clock is not None:
                start = self.reflect_clock()
                await self.to_sideband(json.dumps({**event, "start_ms": start, "end_ms": start + len(pcm) // 48}))
            return
        if self.channel is not None and self.channel.readyState == "open":
            self._to_channel(text)
        elif self.channel is None and len(self.backlog) < CHANNEL_BACKLOG:
            self.backlog.append(text)
        await self.to_sideband(text)

    async def to_sideband(self, text: str) -> None:
        sideband = self.sideband
        if sideband is not None:
            try:
                await sideband.send_text(text)
            except Exception:  # the sideband dropped: the call goes on without it
                if self.sideband is sideband:
                    self.sideband = None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The call ends: the sideband is closed and the session's reader stops."""
        sideband, self.sideband = self.sideband, None
        if sideband is not None:
            try:
                await sideband.close(code=code, reason=reason)
            except Exception:
                pass
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code})


class FakeCall:
    def __init__(self, call_id: str, pc: RTCPeerConnection, socket: CallSocket) -> None:
        self.call_id = call_id
        self.pc = pc
        self.socket = socket
        self.conn: Any = None  # the RealtimeConnection (or LiveConnection) of the call
        self.ended = False
        self.input_audio_bytes = 0
        self.sideband_attaches = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        await self.socket.close()
        await self.pc.close()
        for task in list(self.tasks):
            task.cancel()


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = payload.decode() if isinstance(payload, bytes) else str(payload)
    return parts


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    return JSONResponse(body, status_code=status)


class CallsFake:
    """`POST /v1/realtime/calls`, `.../{id}/hangup` and the sideband attach, on the fake's event loop."""

    def __init__(self, hub: RealtimeFake) -> None:
        self.hub = hub
        self.calls: dict[str, FakeCall] = {}
        self.session_problems: list[str] = []
        self.refuse: int | None = None
        """When set, every call is refused with this HTTP status (a service or server without WebRTC)."""
        self.refused = 0

    async def create(self, request: Request) -> Response:
        if self.refuse is not None:
            self.refused += 1
            return _error(self.refuse, "WebRTC calls are not available here.")
        parts = _multipart(await request.body(), request.headers.get("content-type", ""))
        offer = parts.get("sdp", "")
        if not offer.startswith("v=0"):
            return _error(400, "Missing or invalid 'sdp'.", "sdp")
        session: dict[str, Any] = json.loads(parts["session"]) if parts.get("session") else {}
        issues = validate_client_event({"type": "session.update", "session": session}) if session else []
        if issues:
            self.session_problems.append(f"{issues[0].code}: {issues[0].message}")
            return _error(400, issues[0].message, issues[0].param)
        if len([c for c in self.calls.values() if not c.ended]) >= MAX_CALLS:
            return _error(429, "Too many calls.")
        call = await self._answer(new_id("rtc"), offer, CallSocket(PcmOutTrack()))
        if isinstance(call, Response):
            return call
        call_id, pc, socket = call.call_id, call.pc, call.socket
        model = str(session.get("model") or "gpt-realtime")
        conn = RealtimeConnection(
            self.hub, socket, index=self.hub._next_index(), model=model, transport=None, options=self.hub.options
        )
        if session:
            conn.session = merge_session(conn.session, {k: v for k, v in session.items() if k != "model"})
        call.conn = conn
        self.hub._attach(conn)
        self.calls[call_id] = call
        call.spawn(self._run(call, conn))
        return Response(
            pc.localDescription.sdp,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": f"/v1/realtime/calls/{call_id}"},
        )

    async def _answer(self, call_id: str, offer: str, socket: CallSocket) -> FakeCall | Response:
        """An aiortc peer that answers `offer`: the call's audio track out, the caller's microphone in, the
        `oai-events` data channel, and the end of the call when the peer connection closes or fails."""
        pc = RTCPeerConnection()
        call = FakeCall(call_id, pc, socket)
        pc.addTrack(socket.out_track)

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            if channel.label != "oai-events":
                return
            socket.open_channel(channel)
            channel.on("message", lambda message: socket.put(message if isinstance(message, str) else ""))

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                call.spawn(self._microphone(call, track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await call.end()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # an offer the WebRTC stack cannot use: refused like the real API does
            await pc.close()
            return _error(400, f"Invalid SDP offer: {type(exc).__name__}.", "sdp")
        return call

    async def _run(self, call: FakeCall, conn: Any) -> None:
        try:
            await conn.run()
        finally:
            await call.end()

    async def _microphone(self, call: FakeCall, track: Any) -> None:
        convert = PcmFromRtp()
        while not call.ended:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = convert.convert(frame)
            call.input_audio_bytes += len(pcm)
            if call.conn is not None and pcm:
                await call.conn.feed_input_audio(pcm)

    async def hangup(self, request: Request) -> Response:
        call = self.calls.get(request.path_params["call_id"])
        if call is None or call.ended:
            return _error(404, "Call not found.")
        await call.end()
        return Response(status_code=200)

    async def attach(self, websocket: WebSocket, call_id: str) -> None:
        """A sideband socket for the call: its client events join the call's, server events are copied to it."""
        call = self.calls.get(call_id)
        if call is None or call.ended:
            await websocket.send_denial_response(_error(404, f"Call '{call_id}' not found."))
            return
        raw_receive = websocket.scope.get("fake_openai.raw_receive")
        await websocket.accept()
        socket = call.socket
        previous = socket.sideband
        socket.sideband = websocket
        socket.sideband_transport = getattr(getattr(raw_receive, "__self__", None), "transport", None)
        call.sideband_attaches += 1
        if previous is not None:
            try:
                await previous.close(code=1000, reason="another sideband attached")
            except Exception:
                pass
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                if text is not None:
                    socket.put(text)
        except Exception:
            pass
        finally:
            if socket.sideband is websocket:
                socket.sideband = None

    def drop_sideband(self, call_id: str | None = None) -> concurrent.futures.Future[None]:
        """Reset the sideband's TCP connection (the client sees 1006); the call and its audio go on.
        Thread-safe (runs on the fake's loop); default: the latest call."""

        async def drop() -> None:
            call = self.calls[call_id] if call_id else list(self.calls.values())[-1]
            socket = call.socket
            if socket.sideband_transport is None:
                raise RuntimeError("the call has no sideband attached")
            socket.sideband = None
            socket.sideband_transport.abort()

        return self.hub._submit(drop())

    def latest(self) -> FakeCall:
        return list(self.calls.values())[-1]

    async def close_all(self) -> None:
        for call in list(self.calls.values()):
            await call.end()
