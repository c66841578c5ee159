"""Who may use the server: a Host allowlist, an Origin check, and the caller's identity (app/store/users.py).

A pure ASGI middleware, so HTTP routes and WebSockets are guarded the same way before any route runs.
- Host: every request must carry exactly one Host header, a valid `host[:port]` (IPv6 in brackets), naming one
  of ALLOWED_HOSTS (default the loopback names; `research-team serve` adds its bind address). Checked first: a
  page on evil.example that rebinds its DNS to 127.0.0.1 sends `Host: evil.example` with a matching Origin, and
  is refused here (DNS rebinding).
- Forwarded headers: X-Forwarded-For / X-Forwarded-Proto and the SSO user header count only when the real peer
  (app/core/peer.py) is one of TRUSTED_PROXIES; scope["client"] then becomes the forwarded client's address, which
  is what routes see (rate limits of anonymous requests, logs).
- Users configured (APP_USERS, APP_TOKEN, stored users or a trusted SSO proxy): every request but /health,
  /protocol.json and the page itself (/, /static/...) needs a user's token, as `Authorization: Bearer <token>`
  or `?token=<token>` (browsers cannot set headers on a WebSocket). The user goes in the request's state.
- Origin: a request that carries an Origin header (browsers do) must come from the server's own host or one of
  ALLOWED_ORIGINS; this stops another site's page from driving a user's local server (cross-site WebSocket
  hijacking). Programs send no Origin and are not affected.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.core.peer import ProxyTrust
from app.store.users import ReservedName, UserDirectory

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# Public: the schemas (the page reads its constants before login; /docs shows the API, whose calls need a token)
OPEN_PATHS = ("/health", "/protocol.json", "/openapi.json", "/docs")
OPEN_PREFIXES = ("/static/", "/docs-assets/")  # the page's and the docs' own files
PAGE_PATHS = ("/", "/index.html", "/favicon.ico")
HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_][a-z0-9_.-]{0,252}))(?::(?P<port>[0-9]{1,5}))?")


class AccessGuard:
    def __init__(
        self,
        app: Any,
        *,
        users: UserDirectory,
        allowed_origins: list[str],
        allowed_hosts: list[str] | None = None,
        proxies: ProxyTrust | None = None,
    ) -> None:
        self.app = app
        self.users = users
        self.proxies = proxies or ProxyTrust(())
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins if o}
        hosts = {_normal_host(h) for h in (allowed_hosts or ["*"]) if h.strip()}
        self.any_host = "*" in hosts
        self.allowed_hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", [])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        hosts = [v.decode("latin-1") for k, v in raw_headers if k.lower() == b"host"]
        refusal = self.refusal(scope, headers, hosts)
        user: str | None = None
        if refusal is None:
            peer = self.forwarded(scope)
            try:
                user = await self.identify(peer, scope, headers)
            except ReservedName as exc:
                refusal = 403, str(exc)
            path = scope.get("path", "")
            is_open = path in OPEN_PATHS or path in PAGE_PATHS or path.startswith(OPEN_PREFIXES)
            if refusal is None and user is None and not is_open:
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

    def refusal(self, scope: Scope, headers: dict[str, str], hosts: list[str]) -> tuple[int, str] | None:
        """(status, reason) when the request may not go on whoever sends it, else None."""
        name = host_name(hosts)
        if name is None:
            return 400, "Bad Host header: exactly one, a name or address with an optional port ([IPv6] in brackets)."
        if not (self.any_host or name in self.allowed_hosts):
            return 400, "Host not allowed: this server does not serve that name (ALLOWED_HOSTS)."
        origin = headers.get("origin")
        if origin and not self._origin_allowed(origin, hosts[0].strip()):
            return 403, "Origin not allowed."
        return None

    def forwarded(self, scope: Scope) -> str | None:
        """The real peer's address; scope["client"] and scope["scheme"] become what a trusted proxy says."""
        client = scope.get("client")
        peer = str(client[0]) if client else None
        raw_headers = scope.get("headers", [])
        address = self.proxies.client_address(peer, raw_headers)
        if address != peer and address is not None:
            scope["client"] = (address, 0)
        scope["scheme"] = self.proxies.scheme(peer, raw_headers, scope.get("scheme", "http"))
        scope.setdefault("state", {})["peer"] = peer
        return peer

    async def identify(self, peer: str | None, scope: Scope, headers: dict[str, str]) -> str | None:
        """The calling user: the local owner when no users are configured, else from the trusted proxy's
        header (the real peer must be a trusted proxy) or the presented token; None when unknown."""
        if not self.users.enabled:
            await self.users.refresh()  # a user added meanwhile (CLI) ends the open, single-owner mode
        if not self.users.enabled:
            return self.users.local_owner()
        proxied = self.users.user_for_proxy(peer, headers)
        if proxied is not None:
            return proxied
        user = await self.users.user_for_token(_bearer(headers.get("authorization", "")) or _query_token(scope))
        if user is None:
            await self.users.refresh()  # the last user removed (CLI): the server is the local owner's again
            if not self.users.enabled:
                return self.users.local_owner()
        return user

    def _origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        return urlsplit(origin).netloc == host.lower()


def host_name(values: list[str]) -> str | None:
    """The name (lowercased, IPv6 without brackets) of exactly one valid Host header; None otherwise."""
    if len(values) != 1:
        return None
    match = HOST.fullmatch(values[0].strip().lower())
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        return None
    if match["v6"] is not None:
        try:
            return str(ipaddress.IPv6Address(match["v6"]))
        except ValueError:
            return None
    name: str = match["name"]
    return name if ".." not in name else None


def _normal_host(value: str) -> str:
    name = value.strip().lower().strip("[]")
    try:
        return str(ipaddress.IPv6Address(name))
    except ValueError:
        return name


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return values[0] if values else None
