"""The errors a TeamSession raises or reports, and how a failure is described to the client."""

from __future__ import annotations

from agents.events import ErrorCode


class SessionCommandError(Exception):
    """A command that cannot be carried out now; `code` goes to the client in an error event."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class EventNotStored(Exception):
    """An event of the session could not be stored, so it was not sent either (stored before sent)."""


def describe_error(exc: BaseException) -> tuple[ErrorCode, str]:
    """An error code and a one-line message for the client (no stack, no secrets).

    AutoGen re-raises agent errors as RuntimeError("<OriginalType>: <message>"), so the text is classified,
    not only the exception type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    haystack = f"{type(exc).__name__} {text}".lower()
    if isinstance(exc, EventNotStored):
        return (
            ErrorCode.STORE_UNAVAILABLE,
            "The run store failed, so the run was stopped: its events could not be kept.",
        )
    for typed, code in (("ModelNotFoundError", ErrorCode.MODEL_NOT_FOUND), ("ModelParameterRefused", None)):
        if typed.lower() in haystack:
            detail = text.split(f"{typed}: ", 1)[-1]
            return code or ErrorCode.MODEL_ERROR, detail[0].upper() + detail[1:500]
    if "ratelimit" in haystack or "error code: 429" in haystack or "rate limit" in haystack:
        return ErrorCode.MODEL_RATE_LIMITED, f"The model API is rate limiting us: {text[:300]}"
    if "authentication" in haystack or "error code: 401" in haystack or "incorrect api key" in haystack:
        return ErrorCode.MODEL_AUTH_FAILED, "The model API refused our credentials: check OPENAI_API_KEY."
    if "timeout" in haystack or "timed out" in haystack:
        return ErrorCode.MODEL_TIMEOUT, f"The model API did not answer in time: {text[:300]}"
    model_failures = (
        "apiconnection",
        "apistatus",
        "internalserver",
        "badrequest",
        "notfounderror",
        "permissiondenied",
        "error code: 5",
    )
    if any(name in haystack for name in model_failures):
        return ErrorCode.MODEL_ERROR, f"The model API failed: {text[:300]}"
    return ErrorCode.AGENT_ERROR, f"The team stopped on an error: {text[:300]}"
