"""Logs are JSON lines and never contain a secret."""

from __future__ import annotations

import json
import logging

from app.logging_setup import JsonFormatter
from app.redaction import Redactor

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
