"""Pytest fixtures for the tests of the tools and of the sandbox (their conftest.py files import them): the local
fixture server, settings pointing at it, and a guard that fails any test whose code tries to open a connection to
anything but the loopback interface."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixture_server import FixtureServer, make_settings, start_fixture_server
from tools.config import ToolSettings


@pytest.fixture(scope="session")
def fixture_server() -> Iterator[FixtureServer]:
    server = start_fixture_server()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every Python-level socket connect is checked: loopback passes, anything else fails the test; so is every
    name lookup (no DNS queries). The list holds every destination that was connected to."""
    connected: list[tuple[str, int]] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address: object) -> None:
        if isinstance(address, tuple) and len(address) >= 2:
            host = str(address[0])
            try:
                loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise AssertionError(f"test tried to connect to {host}:{address[1]}")
            connected.append((host, int(address[1])))

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        """No DNS either: only IP literals and localhost may be resolved (both without a query)."""
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%")[0])
        except ValueError:
            if name != "localhost" and not name.isdigit():
                raise AssertionError(f"test tried to resolve {name!r}") from None
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return connected


@pytest.fixture
def settings(fixture_server: FixtureServer, tmp_path: Path) -> ToolSettings:
    """Tool settings aimed at the fixture server, no Google keys (so DuckDuckGo is primary)."""
    return make_settings(fixture_server, tmp_path)


@pytest.fixture
def google_settings(fixture_server: FixtureServer, tmp_path: Path) -> ToolSettings:
    """As `settings`, with Google keys set (so Google is primary)."""
    return make_settings(fixture_server, tmp_path, google_api_key="test-google-key-123", google_cse_id="cx-test")
