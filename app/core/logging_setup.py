"""Logs: one JSON object per line for collectors, readable coloured lines on a terminal; secrets scrubbed from
every line either way.

LOG_JSON=true or false chooses; unset, JSON unless stderr is a terminal (so `docker logs`, journald and log
collectors keep their JSON, and a person running `research-team serve` reads plain lines).

The JSON formatter masks each field (message, arguments, extras, exception and stack text) before it encodes
the line, so masking can never break the JSON, and a secret holding a quote or a backslash is found as it is,
not as JSON escaped it. Python warnings (AutoGen's "model mismatch") go through the same handler.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from datetime import UTC, datetime

from app.core.redaction import MASK, Redactor

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_DEPTH = 6  # nested extras deeper than this are logged as text


def _utf8(text: str) -> str:
    """Lone surrogates (undecodable bytes of an environment value or a file name) as U+FFFD: the stream cannot
    encode them, and the logging module would print its own error as plain text."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


class JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def _plain(self, value: object, found: list[str], depth: int = 0) -> object:
        """A JSON value for `value` (text for what JSON has no type for), every string in it added to `found`."""
        if isinstance(value, str):
            value = _utf8(value)
            found.append(value)
            return value
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)  # NaN and Infinity are not JSON
            found.append(str(value))  # a number can spell a secret's hex or decimal form
            return value
        if depth < _DEPTH and isinstance(value, dict):
            return {self._plain(str(k), found): self._plain(v, found, depth + 1) for k, v in value.items()}
        if depth < _DEPTH and isinstance(value, list | tuple | set | frozenset):
            return [self._plain(v, found, depth + 1) for v in value]
        return self._plain(str(value), found)

    @staticmethod
    def _masked(value: object, redactor: Redactor) -> object:
        if isinstance(value, str):
            return redactor.redact(value)
        if isinstance(value, dict):
            return {redactor.redact(str(k)): JsonFormatter._masked(v, redactor) for k, v in value.items()}
        if isinstance(value, list):
            return [JsonFormatter._masked(v, redactor) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            masked = redactor.redact(text)
            return value if masked == text else masked
        return value

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit: still one JSON line, not logging's own error
            message = f"{record.msg!s} (arguments: {record.args!r})"
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        found: list[str] = []
        fields = self._plain(entry, found)
        redactor = self._redactor.only_in("\n".join(found))
        if redactor is not None:
            fields = self._masked(fields, redactor)
        line = json.dumps(fields, ensure_ascii=False)
        if not line.isascii():  # JSON leaves these raw, but many readers (and str.splitlines) end a line there
            line = line.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        if "\\" in line or self._redactor.quotes:
            line = self._encoded(line, entry)
        return line

    def _encoded(self, line: str, entry: dict[str, object]) -> str:
        """Mask the encoded line too where JSON escapes could have made a secret's form (lines with a backslash,
        or any line when a secret holds a quote). Masking keeps escapes whole; a mask across the line's own
        quotes (a secret that looks like JSON punctuation) leaves the line out rather than break it."""
        masked = self._redactor.in_json().redact(line)
        if masked == line:
            return line
        try:
            json.loads(masked)
        except ValueError:
            withheld = {"ts": entry["ts"], "level": entry["level"], "msg": f"{MASK} (line withheld: masking)"}
            return json.dumps(withheld)
        return masked


class RedactingFormatter(logging.Formatter):
    """A person's log line: `12:00:01 WARNING  message  key=value …` (the level coloured on a colour terminal).
    Each part is masked on its own before colour codes go around it, so no escape code can split a secret."""

    COLOURS = {"DEBUG": "2", "INFO": "32", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}

    def __init__(self, redactor: Redactor, *, colour: bool = False) -> None:
        super().__init__()
        self._redactor = redactor
        self._colour = colour

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._colour and text else text

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit: still a line
            message = f"{record.msg!s} (arguments: {record.args!r})"
        if record.name == "py.warnings":
            message = plain_warning(message)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        details = "  ".join(f"{k}={v}" for k, v in extras.items())
        if not record.name.startswith(("app", "agents", "tools")) and record.name != "py.warnings":
            details = f"{details}  ({record.name.split('.')[0]})".strip()  # whose line, for library lines
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = f"{record.levelname:<7}"
        parts = [
            self._paint(when, "2"),
            self._paint(level, self.COLOURS.get(record.levelname, "0")),
            self._redactor.redact(_utf8(message)),
        ]
        if details:
            parts.append(self._paint(self._redactor.redact(_utf8(details)), "2"))
        line = " ".join(parts[:3]) + ("  " + parts[3] if details else "")
        if record.exc_info:
            line += "\n" + self._redactor.redact(_utf8(self.formatException(record.exc_info)))
        return line


def plain_warning(text: str) -> str:
    """`/path/file.py:12: UserWarning: message\n  source line` as `message (UserWarning)`."""
    first = text.strip().splitlines()[0] if text.strip() else text
    head, sep, rest = first.partition(": ")
    if sep and ".py:" in head:
        category, sep2, message = rest.partition(": ")
        if sep2:
            return f"{message} ({category})"
    return first


def wants_json(setting: bool | None, stream: object = None) -> bool:
    """LOG_JSON if set; else JSON unless the stream (stderr) is a terminal."""
    if setting is not None:
        return setting
    isatty = getattr(stream if stream is not None else sys.stderr, "isatty", None)
    return not (callable(isatty) and isatty())


def configure_logging(level: str, *, json_lines: bool | None, redactor: Redactor) -> None:
    """Route root, uvicorn, AutoGen logs and Python warnings through one scrubbing handler: JSON lines, or
    readable lines (coloured unless NO_COLOR is set) when json_lines is False, or None and stderr is a terminal."""
    handler = logging.StreamHandler(sys.stderr)
    if wants_json(json_lines):
        handler.setFormatter(JsonFormatter(redactor))
    else:
        colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
        handler.setFormatter(RedactingFormatter(redactor, colour=colour))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # warnings.warn(...) -> the "py.warnings" logger, not plain text on stderr. Released first: capturing again
    # is a no-op in logging when it believes it already captures, even if someone restored warnings.showwarning.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
    # AutoGen logs every message and model call at INFO, including whole prompts: keep them out of our logs.
    for name in (
        "autogen_core",
        "autogen_core.events",
        "autogen_agentchat",
        "autogen_agentchat.events",
        "httpx",
        "httpx2",  # the client the openai package ships with
        "openai",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
