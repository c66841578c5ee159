"""The selector model is a convenience, never a single point of failure.

Routing asks the selector model only when the Manager's opening move named nobody (agents/manager/routing.py). If that
call fails (the model was shut down, the provider is down, a parameter is refused), the run must not end: the
selector answers "Manager" by rule instead, the Manager's next turn is forced to delegate or finish
(agents/manager/run_control.py counts the undecided move), and the failure is logged once per model and error kind.
"""

from __future__ import annotations

import logging

from autogen_core.models import ChatCompletionClient, CreateResult, RequestUsage

from agents.models.errors import model_name
from agents.models.guarded_client import GuardedChatCompletionClient

log = logging.getLogger(__name__)

_reported: set[tuple[str, str]] = set()  # (model, error kind) already logged in this process
_MAX_REPORTED = 256


def _report_once(model: str, exc: BaseException, speaker: str) -> None:
    key = (model, type(exc).__name__)
    if key in _reported:
        return
    if len(_reported) >= _MAX_REPORTED:
        _reported.clear()
    _reported.add(key)
    log.warning(
        "the selector model failed; the %s decides instead (by rule), and runs go on: %s: %s",
        speaker,
        type(exc).__name__,
        str(exc)[:300],
        extra={"selector_model": model},
    )


class FallbackSelectorClient(GuardedChatCompletionClient):
    """Wraps the selector's client: a failed call answers `speaker` instead of raising."""

    def __init__(self, inner: ChatCompletionClient, *, speaker: str, model: str = "selector") -> None:
        self._inner = inner
        self._speaker = speaker
        self._model = model_name(inner, model)
        self.fallbacks = 0

    def on_error(self, exc: Exception) -> CreateResult:
        self.fallbacks += 1
        _report_once(self._model, exc, self._speaker)
        return CreateResult(
            finish_reason="stop",
            content=self._speaker,
            usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
            cached=False,
        )
