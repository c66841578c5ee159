"""Who is really on the other end of the socket, and which forwarded headers to believe.

uvicorn's own proxy middleware (on by default in `uvicorn app.main:app`, with FORWARDED_ALLOW_IPS 127.0.0.1)
rewrites scope["client"] from X-Forwarded-For before the app sees the request: a local caller could claim to be
forwarded by any address, and a real proxy on 127.0.0.1 would vanish behind the browser's address. So:
- `research-team serve` turns uvicorn's proxy_headers off (app/cli/main.py), and
- the app itself (ResearchApp, the first code of ours a request reaches) puts back the address of the socket's
  peer, read from the connection uvicorn hands it: `send` is a method of the object that owns the transport.
  No header can change that address. When it cannot be read (another server, or uvicorn's trace logging
  wrapping `send`), scope["client"] is taken as the server gave it.
Then the access guard (app/sessions/access.py) believes X-Forwarded-For / X-Forwarded-Proto and the SSO user header only
when that real peer is one of TRUSTED_PROXIES (ProxyTrust below).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def socket_peer(send: Any) -> tuple[tuple[str, int], bool] | None:
    """(host, port) of the connection's peer and whether it is TLS, from the transport behind `send`."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    get_extra_info = getattr(transport, "get_extra_info", None)
    if get_extra_info is None:
        return None
    info = get_extra_info("peername")
    if not isinstance(info, tuple | list) or len(info) < 2:
        return None  # a unix socket: no address
    return (str(info[0]), int(info[1])), get_extra_info("sslcontext") is not None


class ResearchApp(FastAPI):
    """FastAPI, with the real peer put back in scope["client"] before any middleware runs."""

    _warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            restore_peer(scope, send)
        await super().__call__(scope, receive, send)


def restore_peer(scope: MutableMapping[str, Any], send: Any) -> None:
    found = socket_peer(send)
    if found is None:
        return
    peer, tls = found
    client = scope.get("client")
    if client is not None and tuple(client)[0] != peer[0] and not ResearchApp._warned:
        ResearchApp._warned = True
        log.warning(
            "the server rewrote the client address from X-Forwarded-For (uvicorn's proxy_headers); the app uses the "
            "socket's peer and believes forwarded headers only from TRUSTED_PROXIES. Run `research-team serve`, "
            "or uvicorn with --no-proxy-headers."
        )
    scope["client"] = peer
    secure = "s" if tls else ""
    scope["scheme"] = ("wss" if tls else "ws") if scope["type"] == "websocket" else f"http{secure}"


class ProxyTrust:
    """TRUSTED_PROXIES: the addresses (or networks) whose forwarded headers are believed."""

    def __init__(self, proxies: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())

    def trusts(self, host: str | None) -> bool:
        address = _address(host) if host else None
        return address is not None and any(address in network for network in self.networks)

    def client_address(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The client: the peer itself, unless the peer is a trusted proxy; then the first untrusted hop of
        X-Forwarded-For read from the right (each proxy appends the address it saw). A hop that is not an
        address ends the walk at the last trusted one."""
        if not self.trusts(peer):
            return peer
        hops = [
            h.strip() for k, v in headers if k.lower() == b"x-forwarded-for" for h in v.decode("latin-1").split(",")
        ]
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return client
            client = str(address)
            if not self.trusts(client):
                return client
        return client

    def scheme(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]], current: str) -> str:
        """X-Forwarded-Proto from a trusted proxy (https behind a TLS-terminating proxy), else `current`."""
        if not self.trusts(peer):
            return current
        for key, value in headers:
            if key.lower() == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[0].strip().lower()
                if proto in ("http", "https"):
                    websocket = current.startswith("ws")
                    return proto.replace("http", "ws") if websocket else proto
        return current


def _address(value: str) -> IPAddress | None:
    """An IP from '1.2.3.4', '1.2.3.4:5678', '::1' or '[::1]:80'; None for anything else."""
    text = value.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address  # a dual-stack socket shows 127.0.0.1 as ::ffff:127.0.0.1
