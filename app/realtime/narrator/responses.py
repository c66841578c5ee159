"""One response in flight at a time, and a retried final answer (Realtime backend).

Every response.create goes through ResponseGate: queued until the previous response is done
(`conversation_already_has_active_response` cannot happen), retried with backoff when it fails and must be
delivered (the team's answer), and put back in the queue when the connection drops while it was in flight.

Matching a response to its request does not depend on the server echoing `response.metadata` (some
Realtime-compatible servers do not): the first `response.created` after our `response.create` is ours unless its
metadata names another request, and from then on its response id identifies it. Turn detection never creates
responses on its own (session_config), so an unasked-for response is rare; it is tracked by id and waited out.

A start watch (no `response.created` within `start_timeout_s`: the request was lost) belongs to one attempt:
re-sending, a drop, or the start itself ends it, so an old watch can never fire a second response.create.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents.background import BackgroundTasks
from app.realtime.transport import TransportClosed

log = logging.getLogger(__name__)
MAX_PENDING = 64  # requests waiting their turn; beyond this the oldest progress/reply requests are dropped
RESEND_ON_DROP = ("final_answer", "tool_result", "reply")


@dataclass
class ResponseRequest:
    purpose: str  # "reply" | "tool_result" | "final_answer" | "progress"
    instructions: str | None = None
    tool_choice: str | None = None
    must_deliver: bool = False
    run_id: str | None = None
    attempts: int = 0
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def event(self) -> dict[str, Any]:
        response: dict[str, Any] = {"metadata": {"purpose": self.purpose, "key": self.key}}
        if self.instructions:
            response["instructions"] = self.instructions
        if self.tool_choice:
            response["tool_choice"] = self.tool_choice
        return {"type": "response.create", "event_id": f"evt_rc_{self.key}_{self.attempts}", "response": response}


@dataclass
class Outcome:
    request: ResponseRequest | None
    status: str
    error: dict[str, Any] | None = None


class ResponseGate:
    def __init__(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        start_timeout_s: float = 15.0,
    ) -> None:
        self._send = send
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._start_timeout_s = start_timeout_s
        self._pending: deque[ResponseRequest] = deque()
        self._in_flight: ResponseRequest | None = None
        self._in_flight_id: str | None = None  # the server's id for it, once response.created named it
        self._server_response: str | None = None  # id of a response we did not ask for
        self._watch: asyncio.TimerHandle | None = None
        self._connected = False
        self._timers = BackgroundTasks()
        self.keep_started_on_drop = False
        """A WebRTC call's sideband: a response the service already started goes on in the call when the
        sideband drops, and its response.done arrives on the next attach; resending it would speak it twice."""
        self.sent: list[ResponseRequest] = []
        self.outcomes: list[Outcome] = []

    @property
    def busy(self) -> bool:
        return self._in_flight is not None or self._server_response is not None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def request(self, request: ResponseRequest) -> None:
        if len(self._pending) >= MAX_PENDING:
            droppable = [r for r in self._pending if not r.must_deliver]
            if droppable:
                self._pending.remove(droppable[0])
        self._pending.append(request)
        await self.pump()

    async def connected(self) -> None:
        self._connected = True
        if self._in_flight is not None and self._in_flight_id is not None:  # kept across a sideband drop
            self._watch_kept(self._in_flight, self._in_flight_id)
        await self.pump()

    def disconnected(self) -> None:
        """The socket dropped: a response in flight is lost; ask again on the new connection if it matters.
        On a sideband, a response the service started is not lost: it stays in flight (see connected)."""
        self._connected = False
        self._end_watch()
        if self.keep_started_on_drop and self._in_flight is not None and self._in_flight_id is not None:
            self._server_response = None
            return
        lost, self._in_flight, self._in_flight_id, self._server_response = self._in_flight, None, None, None
        if lost is not None and lost.purpose in RESEND_ON_DROP:
            lost.attempts = max(0, lost.attempts - 1)
            self._pending.appendleft(lost)

    async def pump(self) -> None:
        if not self._connected or self.busy or not self._pending:
            return
        request = self._pending.popleft()
        request.attempts += 1
        self._in_flight, self._in_flight_id = request, None
        self.sent.append(request)
        try:
            await self._send(request.event())
        except TransportClosed:  # the socket is gone: the request waits for the next connection
            self.disconnected()
            return
        self._start_watch(request)

    def on_created(self, response: dict[str, Any]) -> None:
        key = (response.get("metadata") or {}).get("key")
        request = self._in_flight
        if request is not None and self._in_flight_id is None and key in (request.key, None):
            self._in_flight_id = response.get("id") or "?"
            self._end_watch()
        else:
            self._server_response = response.get("id")

    async def on_done(self, response: dict[str, Any]) -> Outcome:
        key = (response.get("metadata") or {}).get("key")
        response_id = response.get("id")
        status = response.get("status") or "completed"
        error = ((response.get("status_details") or {}).get("error")) if status == "failed" else None
        request = self._in_flight
        ours = request is not None and (
            (key is not None and key == request.key)
            or (self._in_flight_id is not None and self._in_flight_id == response_id)
        )
        if ours:
            self._in_flight, self._in_flight_id = None, None
            self._end_watch()
        else:
            request = None
            if response_id == self._server_response or self._server_response is None:
                self._server_response = None
        outcome = Outcome(request, status, error)
        self.outcomes.append(outcome)
        if request is not None and status == "failed":
            self._retry_later(request, error)
        await self.pump()
        return outcome

    async def on_error(self, error: dict[str, Any]) -> None:
        """An error event that names our response.create: the response never started."""
        event_id = error.get("event_id") or ""
        request = self._in_flight
        if request is not None and self._in_flight_id is None and event_id.startswith(f"evt_rc_{request.key}_"):
            self._in_flight = None
            self._end_watch()
            self._retry_later(request, error)
            await self.pump()

    def _retry_later(self, request: ResponseRequest, error: dict[str, Any] | None) -> None:
        if not request.must_deliver or request.attempts >= self._max_attempts:
            if request.must_deliver:
                log.error("response %s failed %d times; giving up", request.purpose, request.attempts)
            return
        delay = self._backoff_s * 2 ** (request.attempts - 1)
        log.warning(
            "response %s failed (%s); retry %d in %.1fs",
            request.purpose,
            (error or {}).get("code") or (error or {}).get("type"),
            request.attempts + 1,
            delay,
        )

        async def requeue() -> None:
            await asyncio.sleep(delay)
            self._pending.appendleft(request)
            await self.pump()

        self._timers.spawn(requeue())

    def _start_watch(self, request: ResponseRequest) -> None:
        self._end_watch()
        attempt = request.attempts

        def lost() -> None:
            self._watch = None
            if self._in_flight is request and request.attempts == attempt and self._in_flight_id is None:
                self._in_flight = None
                self._retry_later(request, {"code": "no_response"})
                self._timers.spawn(self.pump())

        self._watch = asyncio.get_running_loop().call_later(self._start_timeout_s, lost)

    def _watch_kept(self, request: ResponseRequest, response_id: str) -> None:
        """A response kept across a sideband drop finished while we were away if no response.done for it comes
        within start_timeout_s of the re-attach: then it counts as lost and is asked for again if it matters."""
        self._end_watch()

        def gone() -> None:
            self._watch = None
            if self._in_flight is request and self._in_flight_id == response_id:
                self._in_flight, self._in_flight_id = None, None
                if request.purpose in RESEND_ON_DROP:
                    self._pending.appendleft(request)
                self._timers.spawn(self.pump())

        self._watch = asyncio.get_running_loop().call_later(self._start_timeout_s, gone)

    def _end_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def close(self) -> None:
        self._end_watch()
        self._timers.cancel_all()
