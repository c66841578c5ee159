"""Scrubs secrets from text: configured secret values and anything shaped like an API key or bearer token.

Used on every log line (field by field, before JSON encoding: app/core/logging_setup.py), every stored/sent event and
the voice page's event log, so a key that slips into a model answer or an error message still never leaves the
server. The events are redacted as JSON text, so a mask never splits a backslash escape: it takes the whole
escape (`\\"`, `\\u00e9`) or none of it, and the text stays valid JSON.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
PREFIX = 8  # the shortest start of a secret that is masked on its own
SHORTEST = 6  # shorter configured values are not secrets
SECRET_SHAPES = re.compile(
    r"(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}"  # OpenAI keys
    r"|ek_[A-Za-z0-9]{16,}"  # OpenAI ephemeral client secrets
    r"|AIza[0-9A-Za-z_-]{30,}"  # Google API keys
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}"
    r"|(?<=[?&]token=)[^&\s\"'\\]+)"  # a token in any query string; never a backslash (a JSON escape's)
)
# SECRET_SHAPES only runs on text holding one of these: its look-behinds cost a try at every character.
_SHAPE_MARKS = ("sk-", "ek_", "AIza", "Bearer ", "token=")
_BINARY: tuple[tuple[Callable[[bytes], bytes], int, int], ...] = (
    (base64.b64encode, 6, 3),  # (encoder, bits per character, bytes per group)
    (base64.urlsafe_b64encode, 6, 3),
    (base64.b32encode, 5, 5),
)


def _stable(encoded: str, bits: int, offset: int, size: int) -> str:
    """The characters of `encoded` (of `offset` unknown bytes, then the secret's `size` bytes) that depend on the
    secret alone: the same wherever the secret sits inside a longer encoded value."""
    first = -(-offset * 8 // bits)
    last = (offset + size) * 8 // bits
    return encoded[first:last]


def _bytes(text: str) -> bytes:
    """UTF-8, with what an environment value's undecodable bytes became turned back into those bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _entities(text: str) -> str:
    return "".join(f"&#{ord(c)};" if c in "&<>\"'" else c for c in text)


def encodings(secret: str) -> set[str]:
    """The forms a secret can take on its way through URLs, headers, pages and logs: raw; percent-encoded (as
    URLSearchParams and curl send it) once and twice; base64 (standard and URL-safe) and base32 at each byte
    alignment it can have inside a longer encoded value such as `Basic base64(user:token)`, the part of it
    that only the secret decides (with or without padding); hex in both cases; HTML entities; JSON string
    escapes (and, for a value that is itself escaped, what it unescapes to)."""
    raw = _bytes(secret)
    once = {quote(raw, safe=""), quote(raw), quote_plus(raw, safe="")}
    forms = {secret, *once, *(quote(form, safe="") for form in once)}
    forms |= {html.escape(secret), _entities(secret), raw.hex(), raw.hex().upper()}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    for encode, bits, group in _BINARY:
        for offset in range(group):
            forms.add(_stable(encode(b"\0" * offset + raw).decode(), bits, offset, len(raw)))
    try:
        unescaped = json.loads(f'"{secret}"')
    except ValueError:
        pass
    else:
        forms.add(unescaped)
    return {form for form in forms if len(form) >= SHORTEST}


def _escape_at(text: str, index: int) -> int:
    """Where the backslash escape that `text[index]` belongs to starts (`\\n`, `\\"`, `\\u00e9`), or `index`."""
    for back in range(1, 6):
        start = index - back
        if start < 0:
            break
        if text[start] == "\\" and (back == 1 or text[start + 1] == "u"):
            run = start
            while run > 0 and text[run - 1] == "\\":
                run -= 1
            if (start - run) % 2 == 0:  # an even number of backslashes before it: this one escapes
                return start
    return index


def _whole_escapes(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) so that it holds each backslash escape it touches whole."""
    start = _escape_at(text, start)
    if end < len(text):
        escape = _escape_at(text, end)
        if escape < end:
            end = min(len(text), escape + (6 if text[escape + 1] == "u" else 2))
    return start, end


# What JSON string escapes end with (`\n`, `\"`, `\u001f`): a secret's form that starts with one of these can
# appear in a JSON line when the text before it was escaped, without being in the text that was encoded.
_ESCAPE_TAILS = frozenset('"\\/bfnrtu0123456789abcdef')


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret that contains another is masked whole; very short values are not secrets.
        forms = {form for secret in secrets if secret and len(secret) >= SHORTEST for form in encodings(secret)}
        self._heads = [(form[:PREFIX], form) for form in sorted(forms, key=len, reverse=True)]
        self._shapes = True
        # A form holding a quote can match a JSON line's own punctuation: such lines always get a second pass.
        self.quotes = any('"' in form for form in forms)
        self._in_json: Redactor | None = None

    def only_in(self, sample: str) -> Redactor | None:
        """This redactor cut down to what `sample` holds (the secrets whose start is in it, the key shapes if one
        of their marks is), or None when there is nothing to mask: one scan for all the fields of a log record,
        not one per field. Use it on parts of `sample` only."""
        heads = [pair for pair in self._heads if pair[0] in sample]
        shapes = self._shapes and any(mark in sample for mark in _SHAPE_MARKS)
        return self._part(heads, shapes) if heads or shapes else None

    def in_json(self) -> Redactor:
        """For JSON text whose strings were masked before encoding: only the forms that encoding can make
        (holding a quote or a backslash, or starting with what an escape ends with)."""
        if self._in_json is None:
            heads = [(h, f) for h, f in self._heads if h[0] in _ESCAPE_TAILS or '"' in h or "\\" in h]
            self._in_json = self._part(heads, False)
        return self._in_json

    def _part(self, heads: list[tuple[str, str]], shapes: bool) -> Redactor:
        part = Redactor()
        part._heads, part._shapes, part.quotes = heads, shapes, self.quotes
        return part

    def redact(self, text: str) -> str:
        """Mask every secret, and every cut-off start of one (at least PREFIX characters): text is often
        shortened before it reaches us (an error message cut at 300 characters), and a key cut in the middle
        must not leak the part that survived."""
        for head, secret in self._heads:
            if head not in text:
                continue
            start = text.find(head)
            while start != -1:
                end = start + len(head)
                while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
                    end += 1
                start, end = _whole_escapes(text, start, end)
                text = text[:start] + MASK + text[end:]
                start = text.find(head, start + len(MASK))
        if self._shapes and any(mark in text for mark in _SHAPE_MARKS):
            return SECRET_SHAPES.sub(MASK, text)
        return text
