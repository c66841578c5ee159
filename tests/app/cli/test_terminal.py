"""The terminal: readable coloured logs and a start-up banner when stderr is a terminal, JSON lines otherwise
(or when LOG_JSON says so); secrets masked either way; Python warnings as one plain line."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from app.core.logging_setup import RedactingFormatter, configure_logging, plain_warning, wants_json
from app.core.redaction import Redactor
from tests.support.cli import cli_env, free_port
from tests.support.paths import CLI, ROOT

SECRET = "sk-" + "terminal-configured-key-98765"


class Tty:
    def isatty(self) -> bool:
        return True


def test_json_unless_a_terminal_or_asked() -> None:
    assert wants_json(None, Tty()) is False
    assert wants_json(None, object()) is True  # a pipe, a file, a collector
    assert wants_json(True, Tty()) is True and wants_json(False, object()) is False


def test_readable_lines_are_coloured_and_masked() -> None:
    formatter = RedactingFormatter(Redactor([SECRET]), colour=True)
    record = logging.makeLogRecord(
        {"name": "app.x", "levelno": 30, "levelname": "WARNING", "msg": "key %s", "args": (SECRET,)}
    )
    record.detail = f"header Bearer {SECRET}"
    line = formatter.format(record)
    assert "\x1b[33mWARNING" in line and "key ***" in line and "detail=header Bearer ***" in line
    assert "terminal-configured" not in line and "{" not in line


def test_a_warning_is_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert plain_warning("/x/y.py:12: UserWarning: Model mismatch\n  warnings.warn(") == "Model mismatch (UserWarning)"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", json_lines=False, redactor=Redactor([SECRET]))
        warnings.warn(f"resolved model differs {SECRET}", UserWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
        root.handlers, root.level = saved[0], saved[1]
    err = capsys.readouterr().err
    assert "WARNING" in err and "resolved model differs *** (UserWarning)" in err
    assert ".py:" not in err and "warnings.warn" not in err and "terminal-configured" not in err


def _serve_env(tmp_path: Path) -> dict[str, str]:
    return cli_env(
        ("OPENAI_", "APP_", "DATABASE_", "LOG_"),
        OPENAI_API_KEY="",
        PYTHONPATH=str(ROOT),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
    )


def test_serve_on_a_terminal_shows_a_banner_and_readable_logs(tmp_path: Path) -> None:
    port = free_port()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], env=_serve_env(tmp_path), cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"Fix the" not in seen and time.monotonic() < deadline and proc.poll() is None:
            if select.select([leader], [], [], 0.5)[0]:
                try:
                    seen += os.read(leader, 65536)
                except OSError:
                    break
    finally:
        proc.terminate()
        proc.wait(15)
        os.close(leader)
    text = seen.decode(errors="replace")
    assert f"Research team ready at http://127.0.0.1:{port}" in text, text[-3000:]
    assert "model key" in text and "OPENAI_API_KEY is not set" in text
    assert "code sandbox" in text and "store" in text and "SQLite" in text and "users" in text
    assert "server ready" in text and '{"ts"' not in text and "\x1b[32mINFO" in text
    assert "Traceback" not in text and "Warning:" not in text


def test_serve_without_a_terminal_keeps_json_and_no_banner(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], env=_serve_env(tmp_path), cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline().decode()
            if not line:
                break
            lines.append(line)
            if "Application startup complete" in line:
                break
    finally:
        proc.terminate()
        proc.wait(15)
    assert any(json.loads(line).get("msg") == "server ready" for line in lines), lines
    assert all(line.startswith("{") for line in lines) and not any("Research team ready" in x for x in lines)
