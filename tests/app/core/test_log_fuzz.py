"""Property: whatever a log record holds, every line the JSON formatter writes parses as JSON, can be written as
UTF-8, and holds none of the configured secrets in any encoding (listed here, apart from app/core/redaction.py).

Hypothesis draws secrets (quotes, backslashes, percent signs, unicode) and records whose message, arguments and
extras mix plain text, lone surrogates, query strings, crafted request lines (uvicorn's access log: the target
comes as the client sent it) and the secrets in every encoding. The run prints how many examples it tried:
1500 (about 15 s). Against the formatter and redactor before issue 22 it fails, with several distinct errors.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.logging_setup import JsonFormatter
from app.core.redaction import Redactor

EXAMPLES = 1500
SECRET_CHARS = st.characters(
    codec="utf-8",
    exclude_characters="*",  # the mask itself: a secret made of stars would reappear in every masked line
    categories=("L", "N", "P", "S", "Zs"),
)
ODD = st.sampled_from(['"', "\\", '\\"', "\\\\", "%", "+", "/", "=", "&", "?", "é", "\u2028", "😀", "\x00", "\n"])


def encoded(secret: str) -> list[str]:
    """Every form the secret must not appear in, whole."""
    raw = secret.encode()
    percent = urllib.parse.quote(secret, safe="")
    forms = [
        secret,
        percent,
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(percent, safe=""),
        raw.hex(),
        raw.hex().upper(),
        html.escape(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    ]
    for encode in (base64.b64encode, base64.urlsafe_b64encode, base64.b32encode):
        full = encode(raw).decode()
        forms += [full, full.rstrip("=")]
    return forms


secrets = st.lists(
    st.one_of(
        st.text(SECRET_CHARS, min_size=8, max_size=40),
        st.lists(st.one_of(ODD, st.text(SECRET_CHARS, max_size=6)), min_size=4, max_size=10).map("".join),
    ).filter(lambda s: len(s) >= 8),
    min_size=1,
    max_size=3,
)


FORGED = ('" 200\n127.0.0.1:1 - "GET /?x=1 HTTP/1.1', '"}, "level": "debug", "msg": "')  # a line forging another
KINDS = ("text", "odd", "surrogate", "secret", "query secret", "query junk", "forged")
# (kind, which secret, which form, text, odd): strategies built once, the secret's form picked when rendered
PIECE = st.tuples(st.sampled_from(KINDS), st.integers(0, 63), st.integers(0, 63), st.text(max_size=30), ODD)
TEXT = st.lists(PIECE, max_size=6)


def render(pieces: list[tuple[str, int, int, str, str]], known: list[str]) -> str:
    out = []
    for kind, which, how, text, odd in pieces:
        forms = encoded(known[which % len(known)])
        form = forms[how % len(forms)]
        out.append(
            {
                "text": text,
                "odd": odd,
                "surrogate": "\ud800" if how % 2 else "\udfff",  # lone surrogates (undecodable bytes)
                "secret": form,
                "query secret": f"?token={form}",
                "query junk": f"&token={text[:8]}{odd}",
                "forged": FORGED[how % 2],
            }[kind]
        )
    return "".join(out)


@st.composite
def records(draw: st.DrawFn) -> tuple[list[str], logging.LogRecord]:
    known = draw(secrets)

    def text() -> str:
        return render(draw(TEXT), known)

    if draw(st.booleans()):  # uvicorn.access: '%s - "%s %s HTTP/%s" %d'
        record = logging.makeLogRecord(
            {
                "name": "uvicorn.access",
                "levelname": "INFO",
                "levelno": 20,
                "msg": '%s - "%s %s HTTP/%s" %d',
                "args": ("127.0.0.1:5000", draw(st.sampled_from(["GET", "POST"])), "/ws/team" + text(), "1.1", 101),
            }
        )
    else:
        record = logging.makeLogRecord(
            {"name": "app.fuzz", "levelname": "WARNING", "levelno": 30, "msg": text() + " %s", "args": (text(),)}
        )
        record.__dict__["detail"] = {text(): [text(), draw(st.integers())], "n": draw(st.floats())}
        record.__dict__["error"] = text()
    return known, record


tried = 0


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def check_every_line(case: tuple[list[str], logging.LogRecord]) -> None:
    global tried
    tried += 1
    known, record = case
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(Redactor(known)))
    handler.emit(record)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines  # one record, one line: no handler error, no forged line
    line = lines[0]
    line.encode("utf-8")  # writable
    entry = json.loads(line)
    assert set(entry) >= {"ts", "level", "msg"}, entry
    for secret in known:
        for form in encoded(secret):
            assert form not in line, (secret, form, line)


def test_every_json_log_line_parses_and_holds_no_secret() -> None:
    check_every_line()
    print(f"\nlog fuzz: {tried} examples tried")
    assert tried >= EXAMPLES
