"""Logs are JSON lines and never contain a secret."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from app.core.logging_setup import JsonFormatter
from app.core.redaction import Redactor
from tests.support.paths import ROOT

SECRET = "sk-" + "test-configured-key-123456"  # built at runtime: no key-shaped literal in the repo


def test_json_log_lines_are_scrubbed() -> None:
    formatter = JsonFormatter(Redactor([SECRET]))
    record = logging.makeLogRecord(
        {
            "name": "app.test",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "calling with %s and header %s",
            "args": (SECRET, "Bearer eyJhbGciOi.abc"),
        }
    )
    record.session_id = "s_abc"
    line = formatter.format(record)
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["session_id"] == "s_abc"
    assert "sk-test" not in line and "eyJhbGciOi" not in line
    assert entry["msg"] == "calling with *** and header Bearer ***"


def test_redactor_masks_key_shapes_and_configured_values() -> None:
    redactor = Redactor(["hunter2-long-password"])
    text = redactor.redact(
        "a "
        + "sk-"
        + "abcdefghijklmnopqrstuv b "
        + "ek_"
        + "0123456789abcdef0123 c "
        + "AIza"
        + "x" * 35
        + " d hunter2-long-password"
    )
    assert text == "a *** b *** c *** d ***"
    assert redactor.redact("nothing secret here") == "nothing secret here"


def format_json(redactor: Redactor, msg: str, *args: object, name: str = "app.test", **extra: object) -> str:
    record = logging.makeLogRecord({"name": name, "levelno": 20, "levelname": "INFO", "msg": msg, "args": args})
    record.__dict__.update(extra)
    return JsonFormatter(redactor).format(record)


def test_a_token_in_a_query_string_next_to_a_quote_keeps_the_line_json() -> None:
    """The query-string pattern used to eat the backslash of an escaped quote, which ended the string early."""
    line = format_json(Redactor([]), 'fetching "https://api.example/x?token=abc123" failed', url='u?token=t"z')
    entry = json.loads(line)
    assert entry["msg"] == 'fetching "https://api.example/x?token=***" failed'
    assert entry["url"] == 'u?token=***"z'


def test_a_crafted_request_line_in_the_access_log_keeps_the_line_json() -> None:
    """uvicorn logs the request target as it came: quotes and backslashes in it must not break the line."""
    target = '/ws/team?token=abc\\"}, "level": "debug", "x": "\\u0041'
    line = format_json(Redactor([]), '%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", target, "1.1", 101)
    entry = json.loads(line)
    assert entry["logger"] == "app.test" and entry["level"] == "info"
    assert entry["msg"].startswith('1.2.3.4:5 - "GET /ws/team?token=***')


def test_a_secret_with_a_quote_or_backslash_is_masked_in_json_lines() -> None:
    secret = 'pa"ss\\word-' + "0123456789"
    line = format_json(Redactor([secret]), "login with %s", secret, extra_field={"nested": [secret]})
    entry = json.loads(line)
    assert entry == {**entry, "msg": "login with ***", "extra_field": {"nested": ["***"]}}
    assert "0123456789" not in line


WARNING_SCRIPT = """
import logging, sys, warnings
from app.core.logging_setup import configure_logging
from app.core.redaction import Redactor
configure_logging("INFO", json_lines=True, redactor=Redactor(["secret-in-a-warning-42"]))
warnings.warn("model mismatch: secret-in-a-warning-42", UserWarning)
logging.getLogger("app.x").info("after")
"""


def test_python_warnings_go_through_the_json_log() -> None:
    """AutoGen's "model mismatch" UserWarning used to reach stderr as plain text lines among the JSON."""
    root = ROOT
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", WARNING_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    warned = [e for e in entries if e["logger"] == "py.warnings"]
    assert len(warned) == 1 and "model mismatch: ***" in warned[0]["msg"], entries
    assert "secret-in-a-warning-42" not in done.stderr
