"""Unit tests for trimming (tools/trim.py) and the address rules of the SSRF guard (tools/net_guard.py)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.net_guard import NetGuard, hostname_problem, ip_problem
from tools.trim import head_tail, squash_whitespace, truncate


def test_truncate_cuts_at_a_sentence_and_says_how_much() -> None:
    text = "First sentence here. Second one follows. " * 50
    out = truncate(text, 200)
    assert len(out) <= 200
    assert out.split(" … [")[0].endswith(".")
    kept = out.split(" … [")[0]
    assert out.endswith(f"{len(text) - len(kept):,} more characters not shown]")
    assert truncate("short", 200) == "short"


def test_head_tail_keeps_both_ends() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    out = head_tail(text, 500)
    assert out.startswith("HEAD") and out.endswith("TAIL") and len(out) <= 500 and "characters omitted" in out


def test_squash_whitespace() -> None:
    assert squash_whitespace("a  \t b\r\n\r\n\r\n\n c  \n") == "a b\n\nc"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.integers(min_value=80, max_value=2000))
def test_trimmed_text_never_exceeds_the_limit(text: str, limit: int) -> None:
    assert len(truncate(text, limit)) <= limit
    assert len(head_tail(text, limit)) <= limit
    if len(text) <= limit:
        assert truncate(text, limit) == text == head_tail(text, limit)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.0.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.1.1", "not a public address"),
        ("::ffff:10.0.0.1", "a private address (embedded in ::ffff:a00:1)"),
        ("2002:a00:1::", "a private address (embedded in 2002:a00:1::)"),
        ("64:ff9b::7f00:1", "a loopback address (embedded in 64:ff9b::7f00:1)"),
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_ip_rules(address: str, problem: str | None) -> None:
    assert ip_problem(ipaddress.ip_address(address)) == problem


@pytest.mark.parametrize(
    "name",
    [
        "localhost",
        "foo.localhost",
        "metadata.google.internal",
        "db.internal",
        "printer.local",
        "router.home.arpa",
        "kubernetes.default.svc",
    ],
)
def test_local_names(name: str) -> None:
    assert hostname_problem(name) == "a local or internal host name"


def test_public_name() -> None:
    assert hostname_problem("en.wikipedia.org") is None


def test_allow_list_entries() -> None:
    guard = NetGuard(["127.0.0.1:8080", "[::1]:9000", "Fixtures.Test"])
    assert guard.is_allowed_host("127.0.0.1", 8080) and not guard.is_allowed_host("127.0.0.1", 8081)
    assert guard.is_allowed_host("[::1]", 9000) and not guard.is_allowed_host("::1", 80)
    assert guard.is_allowed_host("fixtures.test.", 1234)
    assert not NetGuard().is_allowed_host("127.0.0.1", 8080)
