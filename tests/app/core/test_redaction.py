"""A secret is masked in every encoding it can arrive in: raw, percent-encoded, base64 at any alignment."""

from __future__ import annotations

import base64
import html
import json
import logging
import urllib.parse

import pytest

from app.core.logging_setup import JsonFormatter
from app.core.redaction import Redactor

TOKEN = "team+tok/en=with-odd+chars-" + "1234"  # +, / and = change under percent- and base64-encoding


def forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "percent": urllib.parse.quote(secret, safe=""),
        "plus": urllib.parse.quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "basic auth, offset 0": base64.b64encode(b"abc:" + raw[:-1] + raw[-1:]).decode(),
        "basic auth, offset 1": base64.b64encode(b"ab:" + raw).decode(),
        "basic auth, offset 2": base64.b64encode(b"alice:" + raw).decode(),
        "base64, unpadded": base64.b64encode(raw).decode().rstrip("="),
        "double percent": urllib.parse.quote(urllib.parse.quote(secret, safe=""), safe=""),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "base32": base64.b32encode(raw).decode(),
        "base32, offset 3": base64.b32encode(b"abc" + raw).decode(),
        "html": html.escape(secret),
        "json": json.dumps(secret)[1:-1],
    }


@pytest.mark.parametrize("name", list(forms(TOKEN)))
def test_every_encoding_is_masked(name: str) -> None:
    encoded = forms(TOKEN)[name]
    out = Redactor([TOKEN]).redact(f"GET /x?a=1 {encoded} tail")
    assert "***" in out and encoded not in out
    # At most the first and the last base64 group (each mixing at most 3 bytes of the secret with what is
    # around it) can stay readable: the rest of the encoded secret is masked.
    prefix = {"basic auth, offset 0": 4, "basic auth, offset 1": 3, "basic auth, offset 2": 6}.get(name, 0)
    prefix = -(-prefix * 8 // 5) if name == "base32, offset 3" else -(-prefix * 4 // 3)  # the encoded "user:"
    kept = len(out) - len("GET /x?a=1  tail") - len("***") - prefix
    assert kept <= 8, out


QUOTED = 'pa"ss\\word-' + "with-quote-and-backslash"  # JSON escapes both: the raw value is not in a JSON line


@pytest.mark.parametrize("name", ["raw", "json", "html"])
def test_a_secret_with_quotes_and_backslashes_is_masked_in_each_form(name: str) -> None:
    encoded = {"raw": QUOTED, "json": json.dumps(QUOTED)[1:-1], "html": html.escape(QUOTED)}[name]
    out = Redactor([QUOTED]).redact(f"x {encoded} y")
    assert out == "x *** y", out


def test_token_in_an_access_log_query_string_is_masked() -> None:
    line = f'127.0.0.1:5000 - "GET /ws/team?session=s_1&token={urllib.parse.quote(TOKEN, safe="")} HTTP/1.1" 101'
    record = logging.makeLogRecord({"msg": line, "levelname": "INFO", "name": "uvicorn.access"})
    formatted = JsonFormatter(Redactor([])).format(record)  # even a token the server does not know
    assert "token=***" in formatted and "tok%2Fen" not in formatted


def test_a_secret_cut_short_is_masked_too() -> None:
    """Text is often shortened before it is redacted (an error cut at 300 characters): the part of a key that
    survived the cut is masked, not left readable."""
    secret = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0"
    message = ("x" * 280 + " key=" + secret)[:300]
    out = Redactor([secret]).redact(message + "…")
    assert out.endswith("key=***…") and secret[:8] not in out
