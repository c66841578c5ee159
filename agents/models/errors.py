"""Model failures that name what to change: a model that no longer exists, a parameter the model refuses.

OpenAI answers a shut-down (or never existing) model with `404` and `code: "model_not_found"` (the message
wording varies, so the code is what counts). `NamedModelClient` wraps one role's client and turns that into
`ModelNotFoundError` naming the model and the settings that chose it (MANAGER_MODEL, ...), and a `400` about
`reasoning_effort` into `ModelParameterRefused` naming the effort setting. AutoGen re-raises an agent's error
as text ("ModelNotFoundError: ..."), so the class name leads the message and agents/session/errors.py reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autogen_core.models import ChatCompletionClient

from agents.models.guarded_client import GuardedChatCompletionClient


class ModelNotFoundError(RuntimeError):
    """The model named by a setting does not exist (any more) where the base URL points."""

    def __init__(self, model: str, settings: Sequence[str]) -> None:
        self.model, self.settings = model, tuple(settings)
        named = " and ".join(self.settings) or "the model configuration"
        super().__init__(
            f"the model '{model}' named by {named} does not exist or was shut down (404 model_not_found): "
            f"set {named} to a current model (research-team doctor checks them)"
        )


class ModelParameterRefused(RuntimeError):
    """The model refused a parameter we send because of a setting (today: the reasoning effort)."""

    def __init__(self, model: str, setting: str, detail: str) -> None:
        self.model, self.setting = model, setting
        super().__init__(f"the model '{model}' refused a request: {detail} (check {setting})")


def translate(exc: BaseException, model: str, settings: Sequence[str], effort_setting: str | None) -> BaseException:
    """The typed error for an openai SDK error, or `exc` itself."""
    import openai

    body = getattr(exc, "body", None)
    error = body if isinstance(body, Mapping) else {}
    if isinstance(error.get("error"), Mapping):
        error = error["error"]
    code, param = error.get("code"), error.get("param")
    if isinstance(exc, openai.NotFoundError) and code == "model_not_found":
        return ModelNotFoundError(model, settings)
    if isinstance(exc, openai.BadRequestError) and param == "reasoning_effort" and effort_setting:
        return ModelParameterRefused(model, effort_setting, str(error.get("message") or exc)[:300])
    return exc


def model_name(client: ChatCompletionClient, default: str = "unknown") -> str:
    """The model behind a chain of wrappers (metering, steering), when a NamedModelClient is in it."""
    seen = 0
    current: Any = client
    while current is not None and seen < 10:
        if isinstance(current, NamedModelClient):
            return current.model
        current, seen = getattr(current, "inner", None), seen + 1
    return default


class NamedModelClient(GuardedChatCompletionClient):
    """One role's client that knows its model's name and the settings behind it, for errors that say what to
    change. Everything else passes through."""

    def __init__(
        self,
        inner: ChatCompletionClient,
        *,
        model: str,
        settings: Sequence[str],
        effort_setting: str | None = None,
    ) -> None:
        self._inner = inner
        self.model = model
        self.settings = tuple(settings)
        self.effort_setting = effort_setting

    @property
    def inner(self) -> ChatCompletionClient:
        return self._inner

    def on_error(self, exc: Exception) -> BaseException:
        return translate(exc, self.model, self.settings, self.effort_setting)
