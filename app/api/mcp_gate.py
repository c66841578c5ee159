"""Who may use which MCP session, and how many one user may hold.

The SDK's session manager binds a session to the principal that opened it, if the request carries one
(`scope["user"]` an `AuthenticatedUser`): another principal's requests for that session id answer 404, as if it
did not exist. Our users are decided by the access guard (app/sessions/access.py) and put in `scope["state"]["user"]`,
so the gate hands them to the SDK in its form. The SDK also closes idle sessions (MCP_SESSION_IDLE_S) and caps
all of them (MCP_MAX_SESSIONS); the gate adds a cap per user (MCP_SESSIONS_PER_USER), so one user's flood of
`initialize` calls cannot fill the table everyone shares. Opening requests of one user are taken one at a time
(a short lock per user), so the count and the opening cannot race.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_HEADER = b"mcp-session-id"


class McpGate:
    def __init__(self, app: ASGIApp, manager: StreamableHTTPSessionManager, *, per_user: int) -> None:
        self._app = app
        self._manager = manager
        self._per_user = per_user
        self._opening: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def sessions_of(self, user: str) -> int:
        """Open sessions of `user` (the SDK's own table: it forgets a session when it ends or idles out)."""
        owners = self._manager._session_owners
        alive = self._manager._server_instances
        return sum(1 for sid, owner in owners.items() if owner.get("client_id") == user and sid in alive)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = (scope.get("state") or {}).get("user")
        if scope["type"] != "http" or not isinstance(user, str):
            await self._app(scope, receive, send)
            return
        scope["user"] = AuthenticatedUser(AccessToken(token="", client_id=user, scopes=[], subject=user))
        if any(name == SESSION_HEADER for name, _ in scope.get("headers", [])):
            await self._app(scope, receive, send)  # the SDK checks the session belongs to this user
            return
        lock = self._opening[user]
        async with lock:
            if self.sessions_of(user) >= self._per_user:
                await _refuse(send, self._per_user)
                return
            await self._app(scope, receive, send)
        if not lock.locked() and self.sessions_of(user) == 0:
            self._opening.pop(user, None)  # bounded: only users with sessions or opening one are kept


async def _refuse(send: Send, per_user: int) -> None:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32000,
                "message": f"You hold {per_user} MCP sessions, the most allowed (MCP_SESSIONS_PER_USER): "
                "end one (DELETE) or let one idle out.",
            },
        }
    ).encode()
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"), (b"retry-after", b"60")]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def gate_kwargs(settings: Any) -> dict[str, Any]:
    """The SDK session manager's own limits from settings."""
    return {"session_idle_timeout": settings.mcp_session_idle_s, "max_sessions": settings.mcp_max_sessions}
