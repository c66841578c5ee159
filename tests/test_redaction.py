"""A secret is masked in every encoding it can arrive in: raw, percent-encoded, base64 at any alignment."""

from __future__ import annotations

import base64
import logging
import urllib.parse

import pytest

from app.logging_setup import JsonFormatter
from app.redaction import Redactor

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
    }


@pytest.mark.parametrize("name", list(forms(TOKEN)))
def test_every_encoding_is_masked(name: str) -> None:
    encoded = forms(TOKEN)[name]
    out = Redactor([TOKEN]).redact(f"GET /x?a=1 {encoded} tail")
    assert "***" in out and encoded not in out
    # At most the first and the last base64 group (each mixing at most 3 bytes of the secret with what is
    # around it) can stay readable: the rest of the encoded secret is masked.
    prefix = {"basic auth, offset 0": 4, "basic auth, offset 1": 3, "basic auth, offset 2": 6}.get(name, 0)
    kept = len(out) - len("GET /x?a=1  tail") - len("***") - -(-prefix * 4 // 3)  # minus the encoded "user:"
    assert kept <= 8, out


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
