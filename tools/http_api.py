"""httpx clients for the JSON/XML APIs the tools call (Google CSE, MediaWiki), and error text without secrets."""

from __future__ import annotations

import httpx

from tools.config import ToolSettings


def api_client(settings: ToolSettings, timeout_s: float) -> httpx.AsyncClient:
    """A short-lived client: connect within a third of the tool's budget, read within all of it."""
    timeout = httpx.Timeout(timeout_s, connect=max(min(timeout_s / 3, 10.0), 0.5))
    return httpx.AsyncClient(
        timeout=timeout, headers={"User-Agent": settings.http_user_agent}, follow_redirects=True, max_redirects=3
    )


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a failed API call. Never includes the request URL (it may carry an API key)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
