"""The voice socket: connect, reconnect, send, read. Backend-neutral (Realtime and GPT-Live alike).

- Every way a socket can fail (an OSError, the websockets library's ConnectionClosed, the openai SDK's
  WebSocketConnectionClosedError, a send on no connection) reaches callers of `send` as one exception,
  `TransportClosed`: "wait for the next connection and try again".
- A handler that raises is logged and the reader goes on: a bug in handling one event is not a dropped socket.
  Handlers must be quick (they run on the reader); slow work (team commands) is spawned off it by the caller.
- The session limit (60 min Realtime, 2 h GPT-Live) is the caller's to act on: `on_session_limit` fires after
  `session_max_s`, and `renew()` closes the socket so the loop opens a new one at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from openai import WebSocketConnectionClosedError
from websockets.exceptions import WebSocketException

log = logging.getLogger(__name__)

Connect = Callable[[], AbstractAsyncContextManager[Any]]
SOCKET_FAILURES: tuple[type[BaseException], ...] = (OSError, WebSocketException, WebSocketConnectionClosedError)


class TransportClosed(Exception):
    """The voice socket is gone or not open yet: nothing was (reliably) sent; retry after the reconnect."""


class Transport:
    def __init__(
        self,
        connect: Connect,
        *,
        on_open: Callable[[bool], Awaitable[None]],
        on_event: Callable[[dict[str, Any]], Awaitable[None]],
        on_lost: Callable[[], None],
        on_session_limit: Callable[[], None],
        mirror: Callable[[str, dict[str, Any]], None],
        reconnect_delays_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0),
        session_max_s: float = 55 * 60.0,
    ) -> None:
        self._connect = connect
        self._on_open = on_open
        self._on_event = on_event
        self._on_lost = on_lost
        self._on_session_limit = on_session_limit
        self._mirror = mirror
        self._delays = reconnect_delays_s
        self._session_max_s = session_max_s
        self._conn: Any = None
        self._closing = False
        self._renewing = False
        self.connections = 0
        """Sockets opened so far; also the current connection's number (its 'generation')."""
        self.handler_errors = 0
        self._give_up_after: int | None = None
        self._on_gone: Callable[[], None] | None = None

    def give_up_after(self, refused: int, on_gone: Callable[[], None]) -> None:
        """Stop reconnecting after `refused` connects in a row that never opened (a WebRTC call that ended:
        its sideband cannot be attached any more), then call `on_gone`. Without this, it retries forever."""
        self._give_up_after, self._on_gone = refused, on_gone

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def send(self, event: dict[str, Any]) -> None:
        conn = self._conn
        if conn is None:
            raise TransportClosed("the voice socket is not open")
        self._mirror("sent", event)
        try:
            await conn.send(event)
        except SOCKET_FAILURES as exc:
            raise TransportClosed(f"send failed: {type(exc).__name__}") from exc

    async def run(self) -> None:
        """Connect and read until close(); reconnect with backoff after any loss of the socket."""
        failures = 0
        refused = 0
        while not self._closing:
            opened = False
            try:
                async with self._connect() as conn:
                    self._conn = conn
                    opened = True
                    refused = 0
                    restoring = self.connections > 0
                    self.connections += 1
                    failures = 0
                    limit = asyncio.get_running_loop().call_later(self._session_max_s, self._on_session_limit)
                    try:
                        await self._on_open(restoring)
                        while True:
                            await self.dispatch(json.loads(await conn.recv_bytes()))
                    finally:
                        limit.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any loss of the socket (or a refused connect) reconnects
                if not self._closing and not self._renewing:
                    log.warning("voice socket ended: %s", type(exc).__name__)
            finally:
                self._conn = None
                self._on_lost()
            if self._closing:
                return
            refused = 0 if opened else refused + 1
            if self._give_up_after is not None and refused >= self._give_up_after:
                log.warning("voice socket refused %d times in a row: giving up", refused)
                if self._on_gone is not None:
                    self._on_gone()
                return
            if self._renewing:
                self._renewing = False
                continue
            await asyncio.sleep(self._delays[min(failures, len(self._delays) - 1)])
            failures += 1

    async def dispatch(self, event: dict[str, Any]) -> None:
        self._mirror("received", event)
        try:
            await self._on_event(event)
        except TransportClosed:
            raise  # a handler's send found the socket gone: it is gone
        except Exception:
            self.handler_errors += 1
            log.exception("voice event handler failed for %s", str(event.get("type"))[:60])

    async def renew(self) -> None:
        """Close this socket on purpose; the loop opens a new one at once (the caller restores context)."""
        conn = self._conn
        if conn is not None:
            self._renewing = True
            await _quiet_close(conn)

    async def close(self) -> None:
        self._closing = True
        conn = self._conn
        if conn is not None:
            await _quiet_close(conn)


async def _quiet_close(conn: Any) -> None:
    try:
        await conn.close()
    except Exception:  # noqa: BLE001 - closing a socket that is already broken
        pass
