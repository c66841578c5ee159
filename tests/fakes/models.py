"""The models the fake OpenAI serves, the way OpenAI serves them today.

- `GET /v1/models` lists the models not yet shut down, each with `shutdown_date` (YYYY-MM-DD or null), and
  `GET /v1/models/{id}` retrieves one (OpenAI's documented way to watch shutdowns: the deprecations page and
  the API reference, developers.openai.com/api/reference/resources/models, read 2026-12-07).
- A model that is shut down, or that never existed, answers `404 model_not_found` everywhere.
- Reasoning models refuse on Chat Completions what the real API refuses (OpenAI's deployment checklist,
  developers.openai.com/api/docs/guides/deployment-checklist, read 2026-12-07): function tools unless
  `reasoning_effort` is "none" (GPT-6 Luna and Sol, the GPT-5.6 family) or at all (GPT-6.1 Sol, Astra,
  GPT-6.1 Terra: "require Responses for tool calling"); `temperature`, `top_p`, `logprobs`, `top_logprobs`
  unless the effort is "none"; `max_tokens` always ("Use 'max_completion_tokens' instead"); an effort value
  the model does not take. A reasoning model with no `reasoning_effort` runs at its default, "medium".

Shutdown dates: the installed openai SDK's `ChatModel` and Realtime/transcription model literals ("Announced
shutdown date: ..."), which match OpenAI's deprecations page as read 2026-12-07 (shared/notes/voice-apis.md).
The error bodies are the ones the real API returns, as quoted in public bug reports (the wording of the
GPT-6.1 Sol / Terra tool refusal and of an unsupported effort value is ours: no public copy was found).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CATALOG", "FakeModel", "ModelCatalog", "chat_refusal", "model_not_found_body"]

EFFORTS_ALL = ("none", "low", "medium", "high", "xhigh", "max")
EFFORTS_NO_NONE = ("low", "medium", "high", "xhigh", "max")
EFFORTS_GPT5 = ("minimal", "low", "medium", "high")


@dataclass(frozen=True)
class FakeModel:
    id: str
    shutdown_date: str | None = None  # YYYY-MM-DD; the model answers 404 from that day on
    kind: str = "chat"  # chat | reasoning | realtime | live | transcribe
    efforts: tuple[str, ...] = ()  # reasoning_effort values a reasoning model takes
    default_effort: str = "medium"
    tools_need_effort_none: bool = False  # Chat Completions function tools only with reasoning_effort "none"
    tools_need_responses: bool = False  # no function tools on Chat Completions at all
    created: int = 1_750_000_000

    def shut_down(self, today: dt.date) -> bool:
        return self.shutdown_date is not None and dt.date.fromisoformat(self.shutdown_date) <= today

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": "system",
            "shutdown_date": self.shutdown_date,
        }


def _family(ids: Iterable[str], **kwargs: Any) -> list[FakeModel]:
    return [FakeModel(i, **kwargs) for i in ids]


_GPT6_TOOLS_NONE = dict(kind="reasoning", efforts=EFFORTS_ALL, tools_need_effort_none=True)
_GPT6_RESPONSES = dict(kind="reasoning", efforts=EFFORTS_NO_NONE, tools_need_responses=True)

CATALOG: tuple[FakeModel, ...] = tuple(
    [
        *_family(["gpt-6-luna", "gpt-6-sol", "gpt-5.6-luna", "gpt-5.6-terra", "gpt-5.6-sol"], **_GPT6_TOOLS_NONE),
        *_family(["gpt-6.1-sol", "gpt-6-astra", "gpt-6.2-astra", "gpt-6.2-sol"], **_GPT6_RESPONSES),
        FakeModel("gpt-6.1-terra", kind="reasoning", efforts=EFFORTS_ALL, tools_need_responses=True),
        *_family(["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.2"], kind="reasoning", efforts=EFFORTS_ALL),
        *_family(["gpt-5.1", "gpt-5.4-nano"], shutdown_date="2027-04-01", kind="reasoning", efforts=EFFORTS_ALL),
        *_family(
            ["gpt-5", "gpt-5-mini", "gpt-5-nano", "o3"],
            shutdown_date="2026-12-11",
            kind="reasoning",
            efforts=EFFORTS_GPT5,
        ),
        *_family(["gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"], shutdown_date="2027-01-14"),
        *_family(["gpt-4.1-nano", "gpt-3.5-turbo", "gpt-4", "gpt-4-turbo"], shutdown_date="2026-10-23"),
        *_family(["o1", "o3-mini", "o4-mini"], shutdown_date="2026-10-23", kind="reasoning", efforts=EFFORTS_GPT5),
        *_family(["gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-realtime-2", "gpt-realtime-1.5"], kind="realtime"),
        *_family(["gpt-realtime", "gpt-realtime-mini"], shutdown_date="2027-01-20", kind="realtime"),
        *_family(["gpt-live-1", "gpt-live-1.1"], kind="live"),
        *_family(["gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"], kind="transcribe"),
        *_family(
            ["gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1"], shutdown_date="2027-02-26", kind="transcribe"
        ),
    ]
)


def model_not_found_body(model: str) -> dict[str, Any]:
    """The real API's 404 for a model that does not exist (or no longer does)."""
    return {
        "error": {
            "message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


class ModelCatalog:
    """Which models exist on `today` (default: the real date, so the fake retires models when OpenAI does).

    `extra` adds models (e.g. a test's own name for an OpenAI-compatible server); `remove` takes some away."""

    def __init__(
        self,
        models: Iterable[FakeModel] = CATALOG,
        *,
        today: dt.date | None = None,
        extra: Iterable[str | FakeModel] = (),
        list_endpoint: bool = True,
    ) -> None:
        self._models = {m.id: m for m in models}
        for item in extra:
            model = item if isinstance(item, FakeModel) else FakeModel(item)
            self._models[model.id] = model
        self._today = today
        self.list_endpoint = list_endpoint
        """False: `GET /v1/models` answers 404, like OpenAI-compatible servers that do not serve it."""

    @property
    def today(self) -> dt.date:
        return self._today or dt.date.today()

    @today.setter
    def today(self, value: dt.date | None) -> None:
        self._today = value

    def add(self, model: str | FakeModel) -> None:
        found = model if isinstance(model, FakeModel) else FakeModel(model)
        self._models[found.id] = found

    def retire(self, model_id: str, on: str | None = None) -> None:
        """Give `model_id` a shutdown date (default: today, so it is gone at once)."""
        model = self._models.get(model_id) or FakeModel(model_id)
        date = on or self.today.isoformat()
        self._models[model_id] = FakeModel(**{**model.__dict__, "shutdown_date": date})

    def get(self, model_id: str) -> FakeModel | None:
        """The model, or None when it never existed or is shut down."""
        model = self._models.get(model_id)
        if model is None or model.shut_down(self.today):
            return None
        return model

    def listing(self) -> dict[str, Any]:
        alive = [m.as_json() for m in self._models.values() if not m.shut_down(self.today)]
        return {"object": "list", "data": alive}


def _bad_request(message: str, param: str | None, code: str | None) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def chat_refusal(model: FakeModel, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """(status, error body) the real Chat Completions API answers for these parameters, or None if it takes them."""
    if model.kind != "reasoning":
        if "reasoning_effort" in body and body["reasoning_effort"] is not None:
            return _bad_request(
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                "reasoning_effort",
                "unsupported_parameter",
            )
        return None
    if "max_tokens" in body:
        return _bad_request(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' "
            "instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    effort = body.get("reasoning_effort") or model.default_effort
    if effort not in model.efforts:
        allowed = ", ".join(f"'{e}'" for e in model.efforts)
        return _bad_request(
            f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. Supported values "
            f"are: {allowed}.",
            "reasoning_effort",
            "unsupported_value",
        )
    if effort != "none":
        for param in ("temperature", "top_p", "logprobs", "top_logprobs"):
            value = body.get(param)
            if value is None or (param == "temperature" and value == 1) or (param == "top_p" and value == 1):
                continue
            if param == "logprobs" and value is False:
                continue
            return _bad_request(
                f"Unsupported value: '{param}' does not support {value!r} with this model. Only the default "
                f"value is supported.",
                param,
                "unsupported_value",
            )
    if body.get("tools"):
        if model.tools_need_responses:
            return _bad_request(
                f"Function tools are not supported for {model.id} in /v1/chat/completions. To use function "
                "tools, use /v1/responses.",
                "tools",
                None,
            )
        if model.tools_need_effort_none and effort != "none":
            return _bad_request(
                f"Function tools with reasoning_effort are not supported for {model.id} in /v1/chat/completions. "
                "To use function tools, use /v1/responses or set reasoning_effort to 'none'.",
                "reasoning_effort",
                None,
            )
    return None
