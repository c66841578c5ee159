"""SSRF guard for fetching model-chosen URLs.

Two layers, so neither a redirect nor DNS rebinding gets around it:
1. `NetGuard.check_url` vets every URL before a request is made (scheme, host name, every resolved IP); the
   fetcher calls it for the first URL and for each redirect target.
2. `GuardedNetworkBackend` sits under httpx's connection pool: each new TCP connection resolves the host again,
   vets every address, and connects to a vetted IP itself, so what was checked is what gets connected to.

Refused: loopback, private (RFC 1918, ULA), link-local (169.254/16, fe80::/10), multicast, reserved, unspecified,
shared (100.64/10) and other non-global addresses, cloud metadata addresses and names, and IPv6 forms that embed
such an IPv4 address (mapped, 6to4, NAT64, Teredo). `allow_hosts` ("host" or "host:port") lets a test reach one
named local fixture host; it is empty by default.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

BLOCKED_HOSTNAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
    }
)
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".svc", ".cluster.local")
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*")


class BlockedAddressError(Exception):
    """The URL points somewhere the fetcher must not go. The message is written for the model."""


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def ip_problem(ip: IPAddress) -> str | None:
    """Why connecting to `ip` is refused, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            problem = ip_problem(embedded)
            if problem:
                return f"{problem} (embedded in {ip})"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    )
    for attribute, reason in checks:
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "not a public address"
    return None


def hostname_problem(host: str) -> str | None:
    if host in BLOCKED_HOSTNAMES or host.endswith(BLOCKED_SUFFIXES):
        return "a local or internal host name"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for host (A and AAAA)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: dict[str, None] = {}
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault(str(sockaddr[0]).split("%", 1)[0], None)
    return list(seen)


class NetGuard:
    """Decides which hosts and addresses outgoing fetches may reach."""

    def __init__(
        self, allow_hosts: Iterable[str] = (), *, resolver: Resolver | None = None, resolve_timeout_s: float = 5.0
    ) -> None:
        self._allowed: set[tuple[str, int | None]] = set()
        for entry in allow_hosts:
            self._allowed.add(_parse_allow_entry(entry))
        self._resolver = resolver or system_resolver
        self._resolve_timeout_s = resolve_timeout_s

    def is_allowed_host(self, host: str, port: int) -> bool:
        host = normalize_host(host)
        return (host, None) in self._allowed or (host, port) in self._allowed

    async def check_url(self, url: httpx.URL | str) -> None:
        """Raise BlockedAddressError unless `url` is an http(s) URL whose host resolves only to public addresses."""
        url = httpx.URL(url) if isinstance(url, str) else url
        if url.scheme not in DEFAULT_PORTS:
            raise BlockedAddressError(f"Only http and https URLs can be fetched, not {url.scheme or 'this'}:.")
        if not url.host:
            raise BlockedAddressError("The URL has no host name.")
        await self.vetted_addresses(url.host, url.port or DEFAULT_PORTS[url.scheme])

    async def vetted_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for host:port, all of them checked; raises BlockedAddressError."""
        name = normalize_host(host)
        allowed = self.is_allowed_host(name, port)
        literal = _as_ip(name)
        if literal is None and not _HOSTNAME.fullmatch(name):
            raise BlockedAddressError(f"{name!r} is not a valid host name.")
        if literal is not None:
            if not allowed and (problem := ip_problem(literal)):
                raise BlockedAddressError(f"Refused to fetch {name}: it is {problem}.")
            return [str(literal)]
        if not allowed and (problem := hostname_problem(name)):
            raise BlockedAddressError(f"Refused to fetch {name}: it is {problem}.")
        try:
            addresses = await asyncio.wait_for(self._resolver(name, port), self._resolve_timeout_s)
        except (OSError, UnicodeError) as exc:
            raise BlockedAddressError(f"Could not resolve the host name {name}: {exc}.") from exc
        except TimeoutError as exc:
            raise BlockedAddressError(f"Resolving the host name {name} timed out.") from exc
        if not addresses:
            raise BlockedAddressError(f"The host name {name} did not resolve to any address.")
        if not allowed:
            for address in addresses:
                ip = _as_ip(address)
                problem = "not an IP address" if ip is None else ip_problem(ip)
                if problem:
                    raise BlockedAddressError(f"Refused to fetch {name}: it resolves to {address}, {problem}.")
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses the guard vetted, at connect time."""

    def __init__(self, guard: NetGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.vetted_addresses(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("Unix sockets cannot be fetched.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(guard: NetGuard) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through the guard. No proxies from the environment: a
    proxy would make the connection for us and the addresses could not be checked."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, retries=0)
    # httpx 0.28 exposes no network_backend option; its pool is the documented httpcore one, so swap in ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedNetworkBackend(guard),
        max_connections=10,
        max_keepalive_connections=5,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
    )
    return transport


def _as_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_allow_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.strip()
    if entry.startswith("["):  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        port = rest.lstrip(":")
        return normalize_host(host), int(port) if port else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return normalize_host(host), int(port)
    return normalize_host(entry), None
