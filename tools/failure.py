"""A tool's answer that says it could not do its job (unreachable service, refused URL, bad arguments).

The tool modules return it as text, so a caller reading the text sees the same words as before; the team's
FunctionTools (tools/__init__.py) raise it instead, so AutoGen marks the result `is_error: true`: the model is
told the call failed, the page shows it red, /metrics counts `outcome="error"` and the CLI says "failed". An
empty result ("no web results") is an answer, not a failure.
"""

from __future__ import annotations


class ToolFailure(str):
    """The text of a failed tool call."""

    __slots__ = ()


class ToolFailed(Exception):
    """Raised by a team tool so AutoGen reports the call as failed, with the failure's text."""


def raise_on_failure(result: str) -> str:
    if isinstance(result, ToolFailure):
        raise ToolFailed(str(result))
    return result
