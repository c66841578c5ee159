"""Bearer-token checks with OpenAI's 401 answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're "
    "accessing the API from your browser and are prompted for a username and password. You can obtain an API key "
    "from https://platform.openai.com/account/api-keys."
)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None when missing or empty)."""
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def unauthorized_body(token: str | None) -> dict[str, Any]:
    """OpenAI's 401 error body for a missing or wrong key."""
    if token is None:
        return {"error": {"message": NO_KEY_MESSAGE, "type": "invalid_request_error", "param": None, "code": None}}
    shown = token[:3] + "*" * 4 + token[-4:] if len(token) > 8 else "****"
    return {
        "error": {
            "message": f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
