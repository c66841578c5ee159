"""/ws/team: programs talk to their team session (protocol in app/core/protocol.py, schema at /protocol.json).

One reader (parses, checks and dispatches client frames) and one writer (replay, then live events and replies)
per connection. Bad input never closes the connection: every bad frame gets an `error` event with a code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from agents.events import RunError
from agents.session.team_session import SessionCommandError
from app.api.deps import ServicesDep, UserDep
from app.api.ws_edge import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    ClientError,
    client_frames,
    decode_json,
    finish,
    invalid,
    message_type,
    refuse,
)
from app.core.protocol import (
    CLIENT_MESSAGE,
    CLIENT_TYPES,
    CancelMessage,
    ClientMessage,
    Connected,
    ErrorCode,
    PauseMessage,
    PingMessage,
    Pong,
    ResetMessage,
    ResumeMessage,
    Status,
    StatusMessage,
    TaskMessage,
    to_json,
    wrap,
)
from app.core.ratelimit import TokenBucket
from app.core.settings import Settings
from app.services import Services
from app.sessions.registry import SessionEntry, TeamHandle
from app.store.event_log import Inbox
from app.store.run_store import now_iso
from app.store.session_table import TooManySessions

log = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/ws/team")
async def team_socket(websocket: WebSocket, services: ServicesDep, user: UserDep) -> None:
    await websocket.accept()
    session_id = websocket.query_params.get("session") or None
    try:
        after = parse_after(websocket.query_params.get("after"))
        attached = await services.registry.attach(session_id, user)
    except ValueError as exc:
        await refuse(websocket, bare_error(ErrorCode.INVALID_MESSAGE, str(exc)), CLOSE_POLICY)
        return
    except TooManySessions as exc:
        await refuse(websocket, bare_error(ErrorCode.TOO_MANY_SESSIONS, str(exc)), CLOSE_TRY_AGAIN)
        return
    entry, resumed = attached.entry, attached.resumed
    if attached.not_found:
        after = None  # nothing of another session may be replayed into this one
    inbox = Inbox(services.settings.ws_send_queue)
    entry.log.subscribe(inbox)  # before the replay query, so no event falls between the two
    hello = [
        entry.log.reply(
            Connected(
                session_id=entry.log.session_id,
                resumed=resumed,
                last_seq=entry.log.last_seq,
                state=entry.session.state.value,
                model_access=entry.session.available,
                user=user,
            )
        )
    ]
    if attached.not_found:
        missing = f"No session {session_id!r} of yours: this is a new session."
        hello.append(entry.log.reply(_error(ErrorCode.NOT_FOUND, missing, None)))
    writer = asyncio.create_task(_write(websocket, inbox, entry, after, hello), name="ws-team-writer")
    try:
        await _read(websocket, inbox, entry, services)
    finally:
        entry.log.unsubscribe(inbox)
        inbox.close()
        await finish(writer)
        await services.registry.detach(entry)


def parse_after(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("after must be the integer seq of the last event you received") from None
    if value < 0:
        raise ValueError("after must be >= 0")
    return value


async def _write(websocket: WebSocket, inbox: Inbox, entry: SessionEntry, after: int | None, hello: list[str]) -> None:
    try:
        for frame in hello:
            await websocket.send_text(frame)
        last: int = -1
        if after is not None:
            last = after
            async for seq, text in entry.log.stored_after(after):
                await websocket.send_text(text)
                last = seq
        while (item := await inbox.get()) is not None:
            live_seq, text = item.seq, item.text
            if live_seq is not None:
                if live_seq <= last:
                    continue  # already sent from the store
                last = live_seq
            await websocket.send_text(text)
        if inbox.overflowed and websocket.client_state == WebSocketState.CONNECTED:
            await websocket.close(code=CLOSE_TRY_AGAIN, reason=f"too slow; reconnect with after={last}")
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return  # the client went away; the reader notices too


async def _read(websocket: WebSocket, inbox: Inbox, entry: SessionEntry, services: Services) -> None:
    settings = services.settings
    bucket = TokenBucket(settings.ws_rate_per_s, settings.ws_rate_burst)
    async for frame in client_frames(websocket):
        request_id: str | None = None
        try:
            if not bucket.take():
                raise ClientError(
                    ErrorCode.RATE_LIMITED, f"Too many messages: at most {settings.ws_rate_per_s:g} per second."
                )
            payload = decode_frame(frame, settings.ws_max_frame_bytes)
            request_id = payload.get("id") if isinstance(payload.get("id"), str) else None
            message = parse_message(payload, settings.ws_max_task_chars)
            await dispatch(message, entry.session, inbox, entry, settings)
        except ClientError as bad:
            inbox.reply(entry.log.reply(_error(bad.code, bad.message, request_id)))
        except SessionCommandError as refused:
            inbox.reply(entry.log.reply(_error(refused.code, refused.message, request_id), entry.session.run_id))
        except Exception:
            log.exception("ws/team command failed")
            failed = "The server failed to handle that message; it was not applied."
            inbox.reply(entry.log.reply(_error(ErrorCode.INTERNAL_ERROR, failed, request_id)))


def decode_frame(frame: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """The JSON object in a text frame, or ClientError."""
    if frame.get("bytes") is not None:
        raise ClientError(
            ErrorCode.BINARY_NOT_SUPPORTED, "Binary frames are not supported on /ws/team: send JSON text."
        )
    return decode_json(frame.get("text") or "", max_bytes)


def parse_message(payload: dict[str, Any], max_task_chars: int) -> ClientMessage:
    message_type(payload, CLIENT_TYPES)
    try:
        message = CLIENT_MESSAGE.validate_python(payload)
    except ValidationError as exc:
        raise invalid(exc) from None
    if isinstance(message, TaskMessage):
        text = message.text.strip()
        if not text:
            raise ClientError(ErrorCode.INVALID_MESSAGE, "Field 'text' is empty.")
        if len(text) > max_task_chars:
            raise ClientError(ErrorCode.INVALID_MESSAGE, f"Field 'text' is longer than {max_task_chars} characters.")
        message.text = text
    return message


async def dispatch(
    message: ClientMessage, session: TeamHandle, inbox: Inbox, entry: SessionEntry, settings: Settings
) -> None:
    if isinstance(message, TaskMessage):
        budget = settings.run_budget(message.budget) if message.budget is not None else None
        await session.submit_task(message.text, budget)
    elif isinstance(message, PauseMessage):
        await session.pause()
    elif isinstance(message, ResumeMessage):
        await session.resume()
    elif isinstance(message, CancelMessage):
        await session.cancel()
    elif isinstance(message, ResetMessage):
        await session.reset()
    elif isinstance(message, StatusMessage):
        inbox.reply(entry.log.reply(Status.model_validate(await session.fetch_status()), session.run_id))
    elif isinstance(message, PingMessage):
        inbox.reply(entry.log.reply(Pong(id=message.id)))


def _error(code: ErrorCode, message: str, request_id: str | None) -> RunError:
    return RunError(code=code, message=message, id=request_id[:128] if request_id else None)


def bare_error(code: ErrorCode, message: str) -> str:
    """An error for a connection refused before it has a session (bad ?session= or ?after=)."""
    event = wrap(_error(code, message, None), seq=None, run_id=None, session_id="", timestamp=now_iso())
    return to_json(event)[0]
