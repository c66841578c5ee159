"""`POST /v1/realtime/client_secrets`: mint fake ephemeral keys (`ek_fake_...`) like the GA endpoint."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
from openai.types.realtime.session_update_event import Session as SessionUnion
from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.fakes.common.ids import new_id
from tests.fakes.common.sdk_types import Issue, check_value
from tests.fakes.realtime.session_config import default_session, merge_session

__all__ = ["ClientSecretsFake", "ClientSecretCall"]


class _ExpiresAfter(pydantic.BaseModel):
    anchor: Literal["created_at"] | None = None
    seconds: int | None = None


class _Body(pydantic.BaseModel):
    """The request body (`ClientSecretCreateParams`), with the session checked against the SDK's models."""

    session: SessionUnion | None = None
    expires_after: _ExpiresAfter | None = None


@dataclass
class ClientSecretCall:
    body: dict[str, Any]
    status: int
    response: dict[str, Any]
    time: float = field(default_factory=time.time)


class ClientSecretsFake:
    """Mints ephemeral keys and records every call (thread-safe). Minted keys are accepted by the fake's
    realtime endpoint like API keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ClientSecretCall] = []
        self._minted: set[str] = set()

    @property
    def calls(self) -> list[ClientSecretCall]:
        with self._lock:
            return list(self._calls)

    @property
    def minted(self) -> set[str]:
        with self._lock:
            return set(self._minted)

    def _answer(self, body: dict[str, Any], status: int, response: dict[str, Any]) -> JSONResponse:
        with self._lock:
            self._calls.append(ClientSecretCall(copy.deepcopy(body), status, copy.deepcopy(response)))
        return JSONResponse(response, status_code=status)

    async def handle(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._answer(
                {},
                400,
                {
                    "error": {
                        "message": "We could not parse the JSON body of your request.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
        issues: list[Issue] = check_value(body, _Body, "")
        seconds = (body.get("expires_after") or {}).get("seconds", 600)
        if not issues and isinstance(seconds, int) and not 10 <= seconds <= 7200:
            issues = [
                Issue(
                    "integer_above_max_value" if seconds > 7200 else "integer_below_min_value",
                    "expires_after.seconds",
                    f"Invalid 'expires_after.seconds': integer out of range ({seconds}); "
                    "expected a value between 10 and 7200.",
                )
            ]
        if issues:
            first = issues[0]
            return self._answer(
                body,
                400,
                {
                    "error": {
                        "message": first.message,
                        "type": "invalid_request_error",
                        "param": first.param,
                        "code": first.code,
                    }
                },
            )
        session_in = body.get("session") or {"type": "realtime"}
        expires_at = int(time.time()) + int(seconds)
        if session_in.get("type") == "transcription":
            session = {
                **copy.deepcopy(session_in),
                "object": "realtime.transcription_session",
                "id": new_id("sess"),
                "expires_at": expires_at,
            }
        else:
            session = merge_session(
                default_session(
                    session_id=new_id("sess"), model=session_in.get("model", "gpt-realtime"), expires_at=expires_at
                ),
                session_in,
            )
        value = new_id("ek_fake", 32)
        with self._lock:
            self._minted.add(value)
        return self._answer(body, 200, {"value": value, "expires_at": expires_at, "session": session})
