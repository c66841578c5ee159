"""What the team needs to know about OpenAI's current chat models that autogen-ext 0.7.5 does not.

autogen-ext knows models up to gpt-5 / gpt-4.1. For a newer name it needs an explicit `ModelInfo`; the generic
one other names get (`GENERIC_MODEL_INFO` in agents/models/clients.py: no vision, no structured output, system
messages merged) under-describes GPT-5.x and GPT-6 models, so `model_info` gives theirs. The message format is
the same either way: autogen's transformer for an unknown family is its OpenAI one (the same object as for
gpt-5), so only the flags differ.

Reasoning effort on Chat Completions (OpenAI's deployment checklist, developers.openai.com/api/docs/guides/
deployment-checklist, read 2026-12-07): "GPT-6 Astra and GPT-6.1 Sol require Responses for tool calling;
GPT-6 Sol and GPT-6 Luna support function calling in Chat Completions only with reasoning_effort: 'none'."
AutoGen's client speaks Chat Completions, and every agent of the team calls tools, so a role on one of
those models runs at effort "none" unless the operator sets another (and the API then refuses the tools).
"""

from __future__ import annotations

from typing import Literal

from autogen_core.models import ModelInfo

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]

TOOLS_NEED_EFFORT_NONE = ("gpt-6-luna", "gpt-6-sol", "gpt-5.6-luna", "gpt-5.6-terra", "gpt-5.6-sol")
"""Chat Completions function tools only at reasoning_effort "none" (OpenAI's model pages and checklist)."""

TOOLS_NEED_RESPONSES = ("gpt-6.1-sol", "gpt-6-astra", "gpt-6.1-terra", "gpt-6.2-sol", "gpt-6.2-astra")
"""No function tools on Chat Completions at all: these cannot be a tool-using role of this team."""


def _base(model: str) -> str:
    """`gpt-6-luna-2026-09-22` -> `gpt-6-luna` (a dated snapshot behaves like its alias)."""
    parts = model.split("-")
    if len(parts) > 3 and parts[-3].isdigit() and len(parts[-3]) == 4:
        return "-".join(parts[:-3])
    return model


def model_info(model: str) -> ModelInfo | None:
    """An explicit ModelInfo for OpenAI model families autogen-ext 0.7.5 does not know, or None."""
    if not model.startswith(("gpt-6", "gpt-5.")):
        return None
    return ModelInfo(
        vision=True,
        function_calling=_base(model) not in TOOLS_NEED_RESPONSES,
        json_output=True,
        family=model.split("-")[0] + "-" + model.split("-")[1],  # "gpt-6", "gpt-5.6": unknown to autogen
        structured_output=True,
        multiple_system_messages=True,
    )


def default_effort(model: str) -> ReasoningEffort | None:
    """The effort a tool-using role sends when the operator set none: "none" where tools need it, else
    nothing (the model's own default; a model that is not a reasoning model refuses the parameter)."""
    return "none" if _base(model) in TOOLS_NEED_EFFORT_NONE else None


def takes_parallel_tool_calls(model: str) -> bool:
    """Whether Chat Completions takes `parallel_tool_calls` for `model`: OpenAI's GPT models do; o1, o3 and
    o4-mini answer 400 "Unsupported parameter: 'parallel_tool_calls' is not supported with this model"; for
    any other name (an OpenAI-compatible server's own model) we do not know, so it is not sent."""
    return model.startswith("gpt-")
