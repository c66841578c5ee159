"""Model clients for the team's roles, built from settings.

OpenAI by default (OPENAI_API_KEY, OPENAI_BASE_URL honoured, so any OpenAI-compatible server works); other
providers through an AutoGen component config file (MODEL_CONFIG_FILE, JSON or YAML) mapping roles to clients:
    {"default": {"provider": "...", "config": {...}}, "selector": {...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autogen_core.models import ChatCompletionClient, ModelFamily, ModelInfo

from agents.models.call_usage import details_http_client
from agents.models.errors import NamedModelClient
from agents.models.metering import MeteredChatCompletionClient, UsageMeter
from agents.models.openai_models import default_effort
from agents.models.openai_models import model_info as openai_model_info

ROLES = ("manager", "researcher", "developer", "selector")

# Used for model names AutoGen does not know (OpenAI-compatible servers): assume a tool-calling chat model.
GENERIC_MODEL_INFO = ModelInfo(
    vision=False, function_calling=True, json_output=True, family=ModelFamily.UNKNOWN, structured_output=False
)


PROMPT_CACHE_KEY = "research-team-"
"""Prefix of the Chat Completions `prompt_cache_key`, one per role. OpenAI routes a request to a cache machine by
its prompt's first tokens and this key: each role's calls share their static opening (tool definitions, system
message), so a key per role keeps them together, where the Manager's and the Researcher's, which share nothing,
would only compete for the same machines."""


def uses_openai_api(settings: Any) -> bool:
    """Whether the team talks to OpenAI's own API (no model config file, no other base URL): only it is sent
    `prompt_cache_key`, which an OpenAI-compatible server might refuse."""
    base = settings.openai_base_url
    return settings.model_config_file is None and (not base or base.rstrip("/") == "https://api.openai.com/v1")


class ModelConfigError(ValueError):
    """The model configuration cannot produce a client (bad file, unknown role, missing key)."""


@dataclass
class TeamModelClients:
    """One metered client per role, all recording into the same meter."""

    manager: ChatCompletionClient
    researcher: ChatCompletionClient
    developer: ChatCompletionClient
    selector: ChatCompletionClient
    meter: UsageMeter

    @classmethod
    def wrap(
        cls, clients: dict[str, ChatCompletionClient], meter: UsageMeter | None = None, *, cache_keys: bool = False
    ) -> TeamModelClients:
        """`cache_keys`: send each role's `prompt_cache_key` (only to OpenAI's API, see `uses_openai_api`)."""
        meter = meter or UsageMeter()
        metered = {
            role: MeteredChatCompletionClient(
                clients[role], meter, role, extra={"prompt_cache_key": PROMPT_CACHE_KEY + role} if cache_keys else None
            )
            for role in ROLES
        }
        return cls(meter=meter, **metered)

    async def close(self) -> None:
        seen: set[int] = set()
        for role in ROLES:
            client = getattr(self, role)
            inner = getattr(client, "inner", client)
            if id(inner) not in seen:
                seen.add(id(inner))
                await client.close()


def _load_config_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # optional: only needed for YAML config files

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path}: expected a mapping of role to AutoGen component config")
    return data


def clients_from_config_file(path: Path) -> dict[str, ChatCompletionClient]:
    """One client per role from an AutoGen component config file; 'default' fills missing roles."""
    data = _load_config_file(path)
    clients: dict[str, ChatCompletionClient] = {}
    for role in ROLES:
        config = data.get(role, data.get("default"))
        if config is None:
            raise ModelConfigError(f"{path}: no client for role '{role}' and no 'default'")
        clients[role] = ChatCompletionClient.load_component(config)
    return clients


def openai_client(
    model: str,
    *,
    api_key: str,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    reasoning_effort: str | None = None,
    usage_details: bool = False,
) -> ChatCompletionClient:
    """AutoGen's OpenAI client for `model`; `reasoning_effort` is sent on every call when given.
    `usage_details`: read cached input and reasoning tokens from each response (agents/models/call_usage.py); off
    for a client that is only exported (an HTTP client is not part of a component config)."""
    from autogen_ext.models.openai import OpenAIChatCompletionClient
    from autogen_ext.models.openai._model_info import get_info

    kwargs: dict[str, Any] = {"model": model, "api_key": api_key, "timeout": timeout, "max_retries": max_retries}
    if base_url:
        kwargs["base_url"] = base_url
    if reasoning_effort is not None:
        kwargs["reasoning_effort"] = reasoning_effort  # autogen's type lists fewer values than the API takes
    if usage_details:
        kwargs["http_client"] = details_http_client()
    try:
        get_info(model)
    except ValueError:
        kwargs["model_info"] = openai_model_info(model) or GENERIC_MODEL_INFO
    return OpenAIChatCompletionClient(**kwargs)


def role_setting(role: str) -> str:
    """The environment variable that names a role's model: MANAGER_MODEL, ..."""
    return f"{role.upper()}_MODEL"


def effort_setting(role: str) -> str:
    return f"{role.upper()}_REASONING_EFFORT"


def role_effort(settings: Any, role: str) -> str | None:
    """The reasoning effort a role sends: its setting, else the default its model needs (agents/openai_models)."""
    configured = getattr(settings, f"{role}_reasoning_effort", None)
    return configured if configured is not None else default_effort(getattr(settings, f"{role}_model"))


def raw_model_clients(settings: Any) -> dict[str, ChatCompletionClient]:
    """One unmetered client per role. The server builds these once and shares them (with their HTTP pools)
    across sessions: each session wraps them in its own meter (TeamModelClients.wrap), which costs bytes,
    where a client of its own cost about 3.5 MB."""
    if settings.model_config_file is not None:
        return clients_from_config_file(Path(settings.model_config_file))
    if settings.openai_api_key is None:
        raise ModelConfigError("OPENAI_API_KEY is not set")
    key = settings.openai_api_key.get_secret_value()
    names = {role: getattr(settings, f"{role}_model") for role in ROLES}
    shared: dict[tuple[str, str | None], ChatCompletionClient] = {}
    clients: dict[str, ChatCompletionClient] = {}
    for role, name in names.items():
        effort = role_effort(settings, role)
        if (name, effort) not in shared:  # one client per distinct model and effort, shared by its roles
            same = [r for r in ROLES if names[r] == name and role_effort(settings, r) == effort]
            client = openai_client(
                name,
                api_key=key,
                base_url=settings.openai_base_url,
                timeout=settings.model_timeout_s,
                max_retries=settings.model_max_retries,
                reasoning_effort=effort,
                usage_details=True,
            )
            shared[(name, effort)] = NamedModelClient(
                client,
                model=name,
                settings=[role_setting(r) for r in same],
                effort_setting=" or ".join(effort_setting(r) for r in same),
            )
        clients[role] = shared[(name, effort)]
    return clients
