"""Scrubs secrets from text: configured secret values and anything shaped like an API key or bearer token.

Used on every log line, every stored/sent event and the voice page's event log, so a key that slips into a
model answer or an error message still never leaves the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
SECRET_SHAPES = re.compile(
    r"(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}"  # OpenAI keys
    r"|ek_[A-Za-z0-9]{16,}"  # OpenAI ephemeral client secrets
    r"|AIza[0-9A-Za-z_-]{30,}"  # Google API keys
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,})"
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is masked whole; very short values are not secrets.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return SECRET_SHAPES.sub(MASK, text)
