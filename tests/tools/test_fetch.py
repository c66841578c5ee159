"""fetch_web_content against the fixture server: content types, caps, timeouts, redirects, and the SSRF guard.

No test sends traffic anywhere but 127.0.0.1: the autouse `loopback_only` fixture fails any other connect, and
the SSRF cases also assert that the fixture server saw no request (refused before connecting)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixture_server import HUGE_BYTES, FixtureServer, make_settings
from tools.config import ToolSettings
from tools.fetch import fetch_web_content
from tools.net_guard import NetGuard


async def test_article_main_text_without_boilerplate(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    url = fixture_server.url("/pages/article.html")
    result = await fetch_web_content(url, settings=settings)
    assert result.startswith(f"Title: How honeybees keep their hive at 35 °C\nURL: {url}\n\n")
    assert "The answer starts with muscles." in result
    for boilerplate in (
        "personalise content and ads",
        "Most read",
        "Privacy policy",
        "dataLayer",
        "Get the Field Notes weekly",
        "beekeeper_bob",
        "Share on Facebook",
    ):
        assert boilerplate not in result
    assert len(result) <= settings.tool_output_max_chars
    assert result.endswith("more characters not shown]")  # the article is longer than the cap


async def test_output_cap_is_a_setting(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, tool_output_max_chars=1000)
    result = await fetch_web_content(fixture_server.url("/pages/article.html"), settings=settings)
    assert len(result) <= 1000 and "more characters not shown]" in result


async def test_plain_text(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    result = await fetch_web_content(fixture_server.url("/pages/plain.txt"), settings=settings)
    assert result.startswith("Title: (none)\nURL: ")
    assert "station_id four letters, upper case" in result  # whitespace runs squashed
    assert "NORD,2024-05-14T09:00:00Z,12.9,71,1012.9" in result


async def test_pdf_pages_to_text(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    result = await fetch_web_content(fixture_server.url("/pages/report.pdf"), settings=settings)
    assert result.startswith("Title: Field Station Annual Report 2023\n")
    assert "The northern station recorded 8,412 hourly readings." in result
    assert "Section 2: Instruments" in result


async def test_html_without_content_type_is_sniffed(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    result = await fetch_web_content(fixture_server.url("/pages/no-type.html"), settings=settings)
    assert "Title: How honeybees keep their hive at 35 °C" in result and "flight muscles" in result


async def test_page_without_text(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    result = await fetch_web_content(fixture_server.url("/pages/empty.html"), settings=settings)
    assert result.endswith("(The page has no readable text.)") and "Title: Empty" in result


@pytest.mark.parametrize(
    ("path", "what"), [("/pages/image.png", "image/png, 69 bytes"), ("/pages/blob", "application/octet-stream")]
)
async def test_binary_is_refused_politely(
    settings: ToolSettings, fixture_server: FixtureServer, path: str, what: str
) -> None:
    result = await fetch_web_content(fixture_server.url(path), settings=settings)
    assert result.startswith(f"Could not read {fixture_server.url(path)}: it is a binary file ({what}")
    assert "cannot be read" in result


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (404, "HTTP 404 Not Found. The page does not exist"),
        (403, "HTTP 403 Forbidden. The site refuses automated readers"),
        (503, "HTTP 503 Service Unavailable. The server had a problem"),
    ],
)
async def test_http_errors(settings: ToolSettings, fixture_server: FixtureServer, status: int, text: str) -> None:
    result = await fetch_web_content(fixture_server.url(f"/status/{status}"), settings=settings)
    assert result.startswith("Could not read ") and text in result


async def test_whole_fetch_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, fetch_timeout_s=0.5)
    started = time.monotonic()
    result = await fetch_web_content(fixture_server.url("/pages/slow.html"), settings=settings)
    assert time.monotonic() - started < 1.5
    assert result.startswith("Timed out after 0.5 s while fetching ")


async def test_read_timeout(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, fetch_read_timeout_s=0.4)
    started = time.monotonic()
    result = await fetch_web_content(fixture_server.url("/pages/slow.html"), settings=settings)
    assert time.monotonic() - started < 1.5
    assert result.startswith("Timed out while fetching ") and "did not answer in time" in result


async def test_redirects_are_followed_and_final_url_reported(
    settings: ToolSettings, fixture_server: FixtureServer
) -> None:
    result = await fetch_web_content(fixture_server.url("/redirect-chain/3"), settings=settings)
    assert f"URL: {fixture_server.url('/pages/article.html')}\n" in result and "flight muscles" in result


async def test_redirect_limit(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    before = len(fixture_server.requests)
    result = await fetch_web_content(fixture_server.url("/redirect-chain/9"), settings=settings)
    assert "more than 5 redirects" in result
    assert len(fixture_server.requests) - before == 6  # the first request and 5 redirects, then it stops


@pytest.mark.parametrize("declare_length", [False, True])
async def test_50_mb_page_is_cut_at_the_cap_while_streaming(
    fixture_server: FixtureServer, tmp_path: Path, declare_length: bool
) -> None:
    settings = make_settings(fixture_server, tmp_path, fetch_max_bytes=1_000_000)
    path = "/pages/huge.html" + ("?declare=1" if declare_length else "")
    fixture_server.stats.pop("huge_done", None)
    started = time.monotonic()
    result = await fetch_web_content(fixture_server.url(path), settings=settings)
    assert time.monotonic() - started < 10
    assert "Note: only the first 1,000,000 bytes of a larger page were read." in result
    assert "The quick brown fox" in result and len(result) <= settings.tool_output_max_chars
    for _ in range(100):  # the server notices the closed connection on its next writes
        if fixture_server.stats.get("huge_done"):
            break
        await asyncio.sleep(0.05)
    assert fixture_server.stats.get("huge_done") == 1
    # What left the server: the 1 MB read plus what the kernel buffers held, far from the whole 50 MB.
    assert fixture_server.stats["huge_sent"] < HUGE_BYTES // 3


async def test_pdf_over_the_cap_is_refused_from_its_length(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, fetch_max_bytes=1_000_000)
    result = await fetch_web_content(fixture_server.url("/pages/huge.pdf"), settings=settings)
    assert f"the PDF is {HUGE_BYTES:,} bytes, over the 1,000,000-byte limit" in result


# --- SSRF ------------------------------------------------------------------------------------------


@pytest.fixture
def strict_settings(fixture_server: FixtureServer, tmp_path: Path) -> ToolSettings:
    """Production rules: no host is exempt."""
    return make_settings(fixture_server, tmp_path, fetch_allow_hosts=[])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/pages/article.html", "127.0.0.1: it is a loopback address"),
        ("http://localhost:{port}/pages/article.html", "localhost: it is a local or internal host name"),
        ("http://[::1]:{port}/pages/article.html", "::1: it is a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/pages/article.html", "a loopback address (embedded in ::ffff:7f00:1)"),
        ("http://10.0.0.1/admin", "10.0.0.1: it is a private address"),
        ("http://192.168.1.1/", "192.168.1.1: it is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254: it is a cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "a local or internal host name"),
        ("http://100.64.0.1/", "100.64.0.1: it is not a public address"),
        ("http://224.0.0.1/", "224.0.0.1: it is a multicast address"),
        ("http://0.0.0.0:{port}/", "0.0.0.0: it is an unspecified address"),
        ("http://2130706433:{port}/", "2130706433: it resolves to 127.0.0.1, a loopback address"),
        ("file:///etc/passwd", "Only http and https URLs can be fetched"),
    ],
)
async def test_ssrf_targets_are_refused_before_connecting(
    strict_settings: ToolSettings,
    fixture_server: FixtureServer,
    loopback_only: list[tuple[str, int]],
    url: str,
    reason: str,
) -> None:
    before = len(fixture_server.requests)
    result = await fetch_web_content(url.format(port=fixture_server.port), settings=strict_settings)
    assert result.startswith("Not fetched: ") and reason in result
    assert len(fixture_server.requests) == before
    assert not loopback_only  # not one connection was opened


async def test_hostname_resolving_to_a_private_ip_is_refused(
    strict_settings: ToolSettings, monkeypatch: pytest.MonkeyPatch, loopback_only: list[tuple[str, int]]
) -> None:
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "intranet.example.com":
            asked.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    result = await fetch_web_content("http://intranet.example.com/wiki", settings=strict_settings)
    assert asked == ["intranet.example.com"]
    assert result == (
        "Not fetched: Refused to fetch intranet.example.com: it resolves to 10.20.30.40, a private address."
    )
    assert not loopback_only


async def test_one_private_address_among_public_ones_is_enough_to_refuse(strict_settings: ToolSettings) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "fd00::5"]

    guard = NetGuard(resolver=resolver)
    result = await fetch_web_content("https://mixed.example.com/", settings=strict_settings, guard=guard)
    assert "resolves to fd00::5, a private address" in result


async def test_dns_rebinding_is_caught_at_connect_time(
    strict_settings: ToolSettings, loopback_only: list[tuple[str, int]]
) -> None:
    """The pre-check sees a public address; the connection-time lookup gets a private one and is refused, so the
    address that was checked is the address connected to."""
    answers = [["93.184.215.14"], ["10.0.0.7"]]

    async def rebinding_resolver(host: str, port: int) -> list[str]:
        return answers.pop(0) if answers else ["10.0.0.7"]

    guard = NetGuard(resolver=rebinding_resolver)
    result = await fetch_web_content("http://rebind.example.com/", settings=strict_settings, guard=guard)
    assert result == "Not fetched: Refused to fetch rebind.example.com: it resolves to 10.0.0.7, a private address."
    assert not answers and not loopback_only


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:{other}/secret",
        "http://localhost:{port}/pages/plain.txt",
    ],
)
async def test_redirect_from_the_allowed_host_to_a_private_address_is_refused(
    settings: ToolSettings, fixture_server: FixtureServer, loopback_only: list[tuple[str, int]], target: str
) -> None:
    other_port = fixture_server.port + 1 if fixture_server.port < 65535 else fixture_server.port - 1
    target = target.format(port=fixture_server.port, other=other_port)
    url = fixture_server.url(f"/redirect?to={target}")
    result = await fetch_web_content(url, settings=settings)
    assert result.startswith("Not fetched: Refused to fetch "), result
    # The only connection made was to the allowed fixture host, for the redirect itself.
    assert {port for _, port in loopback_only} == {fixture_server.port}


async def test_allow_list_names_one_host_and_port(fixture_server: FixtureServer, tmp_path: Path) -> None:
    settings = make_settings(fixture_server, tmp_path, fetch_allow_hosts=[f"127.0.0.1:{fixture_server.port + 1}"])
    result = await fetch_web_content(fixture_server.url("/pages/plain.txt"), settings=settings)
    assert "it is a loopback address" in result


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "fetch_web_content needs a URL"),
        ("http://exa mple.com/", "Not fetched: 'exa%20mple.com' is not a valid host name."),
        ("http://[::1/", "Not fetched: http://[::1/ is not a valid URL"),
    ],
)
async def test_bad_urls(settings: ToolSettings, url: str, expected: str) -> None:
    result = await fetch_web_content(url, settings=settings)
    assert result.startswith(expected)
