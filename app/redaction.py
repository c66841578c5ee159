"""Scrubs secrets from text: configured secret values and anything shaped like an API key or bearer token.

Used on every log line, every stored/sent event and the voice page's event log, so a key that slips into a
model answer or an error message still never leaves the server.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
PREFIX = 8  # the shortest start of a secret that is masked on its own
SECRET_SHAPES = re.compile(
    r"(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}"  # OpenAI keys
    r"|ek_[A-Za-z0-9]{16,}"  # OpenAI ephemeral client secrets
    r"|AIza[0-9A-Za-z_-]{30,}"  # Google API keys
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}"
    r"|(?<=[?&]token=)[^&\s\"']+)"  # a token in any query string (access logs, URLs in errors)
)


def encodings(secret: str) -> set[str]:
    """The forms a secret can take on its way through URLs, headers and logs: raw, percent-encoded (as
    URLSearchParams and curl send it), and base64 (standard and URL-safe) at each of the three byte alignments
    it can have inside a longer encoded value such as `Basic base64(user:token)`."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    raw = secret.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + raw).decode().rstrip("=")
            start = 4 if offset else 0  # the first group mixes the padding bytes with the secret
            stable = text[start : len(text) - 3]  # the last group depends on what follows the secret
            if len(stable) >= 8:
                forms.add(stable)
    return forms


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is masked whole; very short values are not secrets.
        forms = {form for secret in secrets if secret and len(secret) >= 6 for form in encodings(secret)}
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Mask every secret, and every cut-off start of one (at least PREFIX characters): text is often
        shortened before it reaches us (an error message cut at 300 characters), and a key cut in the middle
        must not leak the part that survived."""
        for secret in self._secrets:
            head = secret[:PREFIX]
            start = text.find(head)
            while start != -1:
                end = start + PREFIX
                while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
                    end += 1
                text = text[:start] + MASK + text[end:]
                start = text.find(head, start + len(MASK))
        return SECRET_SHAPES.sub(MASK, text)
