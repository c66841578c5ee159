"""The price table: USD per million tokens by model name, turned into a price per team role for the run budget
(agents/budget.py), so `run_finished.spent.usd` is the run's cost and RUN_MAX_USD can be enforced.

Defaults are OpenAI's published list prices for the default models (2025); set MODEL_PRICES (JSON, it replaces
the table) for other models or your own rates. A role whose model has no price leaves the cost unknown (null),
never a guess. Cached input tokens are not priced apart: AutoGen's usage (RequestUsage) does not report them,
so every prompt token is priced as input, an upper bound when the provider caches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.budget import TokenPrice

ROLE_MODEL_SETTINGS = {
    "manager": "manager_model",
    "researcher": "researcher_model",
    "developer": "developer_model",
    "selector": "selector_model",
}


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


def default_prices() -> dict[str, ModelPrice]:
    return {
        "gpt-4.1": ModelPrice(input=2.0, output=8.0),
        "gpt-4.1-mini": ModelPrice(input=0.4, output=1.6),
        "gpt-4.1-nano": ModelPrice(input=0.1, output=0.4),
        "gpt-4o": ModelPrice(input=2.5, output=10.0),
        "gpt-4o-mini": ModelPrice(input=0.15, output=0.6),
    }


def role_models(settings: Any) -> dict[str, str]:
    """The model name of each role: from MODEL_CONFIG_FILE when set (its `config.model`), else the settings."""
    if settings.model_config_file is not None:
        return _models_in_config_file(Path(settings.model_config_file))
    return {role: str(getattr(settings, name)) for role, name in ROLE_MODEL_SETTINGS.items()}


def role_prices(settings: Any) -> dict[str, TokenPrice]:
    """role -> price, for the roles whose model is in the table."""
    table: dict[str, ModelPrice] = settings.model_prices
    prices = {}
    for role, model in role_models(settings).items():
        price = table.get(model)
        if price is not None:
            prices[role] = TokenPrice(input_per_million=price.input, output_per_million=price.output)
    return prices


def _models_in_config_file(path: Path) -> dict[str, str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, yaml.YAMLError):
        return {}  # the team reports a bad file itself (agents/model_clients.py)
    if not isinstance(data, dict):
        return {}
    models = {}
    for role in ROLE_MODEL_SETTINGS:
        entry = data.get(role, data.get("default"))
        model = entry.get("config", {}).get("model") if isinstance(entry, dict) else None
        if isinstance(model, str):
            models[role] = model
    return models
