"""Who may use the server: a Host allowlist, a shared token when APP_TOKEN is set, and an Origin check.

A pure ASGI middleware, so HTTP routes and WebSockets are guarded the same way before any route runs.
- Host: every request must name one of ALLOWED_HOSTS (default the loopback names; `research-team serve` adds its
  bind address). Checked first: a page on evil.example that rebinds its DNS to 127.0.0.1 sends
  `Host: evil.example` with a matching Origin, and is refused here (DNS rebinding).
- APP_TOKEN set: every request but /health and the page itself (/, /static/...) needs the token, as
  `Authorization: Bearer <token>` or `?token=<token>` (browsers cannot set headers on a WebSocket).
- Origin: a request that carries an Origin header (browsers do) must come from the server's own host or one of
  ALLOWED_ORIGINS; this stops another site's page from driving a user's local server (cross-site WebSocket
  hijacking). Programs send no Origin and are not affected.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

OPEN_PATHS = ("/health", "/protocol.json")  # the schema is public: the page reads its constants before login
PAGE_PATHS = ("/", "/index.html", "/favicon.ico")


class AccessGuard:
    def __init__(
        self, app: Any, *, token: str | None, allowed_origins: list[str], allowed_hosts: list[str] | None = None
    ) -> None:
        self.app = app
        self.token = token
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins if o}
        hosts = {h.strip().lower().strip("[]") for h in (allowed_hosts or ["*"]) if h.strip()}
        self.any_host = "*" in hosts
        self.allowed_hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            scope.setdefault("state", {})["authenticated"] = self._presented_ok(scope)  # /health shows more
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": refusal[1]})
        else:
            body = json.dumps({"detail": refusal[1]}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": refusal[0],
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                }
            )
            await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, reason) when the request may not go on, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not self._host_allowed(headers.get("host", "")):
            return 400, "Host not allowed: this server does not serve that name (ALLOWED_HOSTS)."
        origin = headers.get("origin")
        if origin and not self._origin_allowed(origin, headers.get("host", "")):
            return 403, "Origin not allowed."
        path = scope.get("path", "")
        if self.token is None or path in OPEN_PATHS or path in PAGE_PATHS or path.startswith("/static/"):
            return None
        if not self._presented_ok(scope):
            return 401, "A valid token is required (APP_TOKEN): send 'Authorization: Bearer <token>' or ?token=."
        return None

    def _presented_ok(self, scope: Scope) -> bool:
        if self.token is None:
            return True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        presented = _bearer(headers.get("authorization", "")) or _query_token(scope)
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())

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
