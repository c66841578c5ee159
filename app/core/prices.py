"""The price table: USD per million tokens by model name, turned into a price per team role for the run budget
(agents/models/budget.py), so `run_finished.spent.usd` is the run's cost and RUN_MAX_USD can be enforced.

Defaults are OpenAI's list prices (Standard tier) from each model's page, read 2026-12-07 (the README's model
table cites them); set MODEL_PRICES (JSON, it replaces the table) for other models or your own rates. A role
whose model has no price leaves the cost unknown (null), never a guess: a price only a third party quoted is
not in the table. `cached_input` is the price of prompt tokens served from OpenAI's prompt cache; None prices
them as input (an upper bound). Cached tokens are read from each response (agents/models/call_usage.py). Reasoning tokens are output tokens, priced as output.

Voice has its own table (VOICE_PRICES, app/core/voice_settings.py): Realtime models bill tokens split into text and
audio, cached apart; GPT-Live bills minutes of session. `VoicePrice` holds either kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.models.budget import TokenPrice

ROLE_MODEL_SETTINGS = {
    "manager": "manager_model",
    "researcher": "researcher_model",
    "developer": "developer_model",
    "selector": "selector_model",
}


class ModelPrice(BaseModel):
    """USD per million tokens. `cached_input`: input served from the provider's prompt cache (None: as input)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


def default_prices() -> dict[str, ModelPrice]:
    """developers.openai.com/api/docs/models/<model> (read 2026-12-07): gpt-6-luna $0.10 / cached $0.01 /
    out $0.50; gpt-6.1-terra $1.00 / $0.05 / $5.00; gpt-5.6-luna $0.20 / $0.02 / $1.20. Cache writes (1.25x
    input on these models) are not reported per call on Chat Completions, so they are not counted."""
    return {
        "gpt-6-luna": ModelPrice(input=0.10, cached_input=0.01, output=0.50),
        "gpt-6.1-terra": ModelPrice(input=1.00, cached_input=0.05, output=5.00),
        "gpt-5.6-luna": ModelPrice(input=0.20, cached_input=0.02, output=1.20),
    }


class VoicePrice(BaseModel):
    """A voice model's price: USD per million tokens (Realtime, by modality, cached input apart) and/or USD per
    minute of session (GPT-Live: billed per second of the duration the service reports)."""

    text_input: float = Field(default=0.0, ge=0)
    cached_text_input: float = Field(default=0.0, ge=0)
    audio_input: float = Field(default=0.0, ge=0)
    cached_audio_input: float = Field(default=0.0, ge=0)
    text_output: float = Field(default=0.0, ge=0)
    audio_output: float = Field(default=0.0, ge=0)
    per_minute: float = Field(default=0.0, ge=0)


def default_voice_prices() -> dict[str, VoicePrice]:
    """OpenAI's model pages (developers.openai.com/api/docs/models/..., read 2026-12-07): gpt-realtime-2.1
    (the default REALTIME_MODEL) and gpt-realtime-2 audio $32 / cached $0.40 / out $64, text $4 / $0.40 / $24;
    gpt-realtime-1.5 the same with text out $16; gpt-realtime-2.1-mini audio $10 / $0.30 / $20, text $0.60 /
    $0.06 / $2.40; gpt-live-1 and gpt-live-1.1 $0.05 a minute of active session (the $0.02 standby rate is not
    told apart in the usage events, so this is an upper bound). gpt-realtime (shut down 2027-01-20) is priced
    like gpt-realtime-1.5, gpt-realtime-mini like 2.1-mini."""
    realtime = VoicePrice(
        text_input=4.0,
        cached_text_input=0.4,
        audio_input=32.0,
        cached_audio_input=0.4,
        text_output=16.0,
        audio_output=64.0,
    )
    mini = VoicePrice(
        text_input=0.6,
        cached_text_input=0.06,
        audio_input=10.0,
        cached_audio_input=0.3,
        text_output=2.4,
        audio_output=20.0,
    )
    live = VoicePrice(per_minute=0.05)
    return {
        "gpt-realtime": realtime,
        "gpt-realtime-1.5": realtime,
        "gpt-realtime-2": realtime.model_copy(update={"text_output": 24.0}),
        "gpt-realtime-2.1": realtime.model_copy(update={"text_output": 24.0}),
        "gpt-realtime-2.1-mini": mini,
        "gpt-realtime-mini": mini,
        "gpt-live-1": live,
        "gpt-live-1.1": live,
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
            prices[role] = TokenPrice(price.input, price.output, cached_input_per_million=price.cached_input)
    return prices


def _models_in_config_file(path: Path) -> dict[str, str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, yaml.YAMLError):
        return {}  # the team reports a bad file itself (agents/models/clients.py)
    if not isinstance(data, dict):
        return {}
    models = {}
    for role in ROLE_MODEL_SETTINGS:
        entry = data.get(role, data.get("default"))
        model = entry.get("config", {}).get("model") if isinstance(entry, dict) else None
        if isinstance(model, str):
            models[role] = model
    return models
