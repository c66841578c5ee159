"""Identifiers shaped like the real API's (`event_CERdCgVkjzO0wk9TclOVW`, `call_LdwKspkpMk7bC5Cv`)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 21) -> str:
    """A random id `<prefix>_<length alphanumerics>`, like `item_CERdHSue2RyKun9wTXJCs`."""
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def new_call_id() -> str:
    """A function-call id like the realtime API's (`call_` + 16 characters)."""
    return new_id("call", 16)


def new_chat_call_id() -> str:
    """A chat-completions tool-call id (`call_` + 24 characters)."""
    return new_id("call", 24)
