"""Who may use the server: a Host allowlist, an Origin check, and the caller's identity (app/users.py).

A pure ASGI middleware, so HTTP routes and WebSockets are guarded the same way before any route runs.
- Host: every request must name one of ALLOWED_HOSTS (default the loopback names; `research-team serve` adds its
  bind address). Checked first: a page on evil.example that rebinds its DNS to 127.0.0.1 sends
  `Host: evil.example` with a matching Origin, and is refused here (DNS rebinding).
- Users configured (APP_USERS, APP_TOKEN, stored users or a trusted SSO proxy): every request but /health,
  /protocol.json and the page itself (/, /static/...) needs a user's token, as `Authorization: Bearer <token>`
  or `?token=<token>` (browsers cannot set headers on a WebSocket). The user goes in the request's state.
- Origin: a request that carries an Origin header (browsers do) must come from the server's own host or one of
  ALLOWED_ORIGINS; this stops another site's page from driving a user's local server (cross-site WebSocket
  hijacking). Programs send no Origin and are not affected.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.users import UserDirectory

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# Public: the schemas (the page reads its constants before login; /docs shows the API, whose calls need a token)
OPEN_PATHS = ("/health", "/protocol.json", "/openapi.json", "/docs")
OPEN_PREFIXES = ("/static/", "/docs-assets/")  # the page's and the docs' own files
PAGE_PATHS = ("/", "/index.html", "/favicon.ico")


class AccessGuard:
    def __init__(
        self,
        app: Any,
        *,
        users: UserDirectory,
        allowed_origins: list[str],
        allowed_hosts: list[str] | None = None,
    ) -> None:
        self.app = app
        self.users = users
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins if o}
        hosts = {h.strip().lower().strip("[]") for h in (allowed_hosts or ["*"]) if h.strip()}
        self.any_host = "*" in hosts
        self.allowed_hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self.refusal(scope, headers)
        user: str | None = None
        if refusal is None:
            user = await self.identify(scope, headers)
            path = scope.get("path", "")
            is_open = path in OPEN_PATHS or path in PAGE_PATHS or path.startswith(OPEN_PREFIXES)
            if user is None and not is_open:
                refusal = (
                    401,
                    "A valid token is required (a user's token, or APP_TOKEN): send 'Authorization: Bearer <token>' or ?token=.",
                )
        if refusal is None:
            state = scope.setdefault("state", {})
            state["user"] = user  # None only on the open paths; routes take it through app/api/deps.py
            state["authenticated"] = user is not None
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": refusal[1]})
        else:
            body = json.dumps({"detail": refusal[1]}).encode()
            response_headers = [(b"content-type", b"application/json")]
            if refusal[0] == 401:
                response_headers.append((b"www-authenticate", b"Bearer"))
            await send({"type": "http.response.start", "status": refusal[0], "headers": response_headers})
            await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, reason) when the request may not go on whoever sends it, else None."""
        if not self._host_allowed(headers.get("host", "")):
            return 400, "Host not allowed: this server does not serve that name (ALLOWED_HOSTS)."
        origin = headers.get("origin")
        if origin and not self._origin_allowed(origin, headers.get("host", "")):
            return 403, "Origin not allowed."
        return None

    async def identify(self, scope: Scope, headers: dict[str, str]) -> str | None:
        """The calling user: the local owner when no users are configured, else from the trusted proxy's
        header or the presented token; None when unknown."""
        if not self.users.enabled:
            await self.users.refresh()  # a user added meanwhile (CLI) ends the open, single-owner mode
        if not self.users.enabled:
            return self.users.local_owner()
        client = scope.get("client")
        proxied = self.users.user_for_proxy(client[0] if client else None, headers)
        if proxied is not None:
            return proxied
        return await self.users.user_for_token(_bearer(headers.get("authorization", "")) or _query_token(scope))

    def _host_allowed(self, host: str) -> bool:
        if self.any_host:
            return True
        name = host.strip().lower()
        if name.startswith("["):  # [::1]:8000
            name = name[1 : name.find("]")] if "]" in name else name
        elif name.count(":") == 1:
            name = name.rsplit(":", 1)[0]
        return name in self.allowed_hosts

    def _origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        return urlsplit(origin).netloc == host.lower()


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None
