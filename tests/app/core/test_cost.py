"""Cost per run: run_finished.spent.usd from the price table (settings), per role's model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.models.budget import TokenPrice
from app.core.prices import ModelPrice, role_prices
from tests.support.live_server import ScriptBook, live_app, make_settings, scripted_app
from tests.support.scripted import paris_script


async def test_run_finished_carries_the_cost_from_the_price_table(tmp_path: Path) -> None:
    prices = {"m-big": ModelPrice(input=3.0, output=15.0), "m-small": ModelPrice(input=0.5, output=1.0)}
    models = {"manager_model": "m-big", "researcher_model": "m-small", "developer_model": "m-small"}
    app = scripted_app(tmp_path, ScriptBook(paris_script), model_prices=prices, selector_model="m-small", **models)
    async with live_app(app) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        done = (await client.until(lambda e: e["type"] == "run_finished", timeout=20))["data"]
        await client.close()
    usage = done["usage"]
    assert usage["prompt_tokens"] > 0
    usd = done["spent"]["usd"]
    # Only the manager and researcher spoke: the cost lies between all tokens at the cheap and at the dear price.
    cheap = (usage["prompt_tokens"] * 0.5 + usage["completion_tokens"] * 1.0) / 1e6
    dear = (usage["prompt_tokens"] * 3.0 + usage["completion_tokens"] * 15.0) / 1e6
    assert cheap < usd < dear


async def test_a_model_without_a_price_leaves_the_cost_unknown(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(paris_script), model_prices={}, manager_model="unpriced")
    async with live_app(app) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        done = (await client.until(lambda e: e["type"] == "run_finished", timeout=20))["data"]
        await client.close()
    assert done["spent"]["usd"] is None


def test_prices_come_from_the_environment_and_the_model_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert role_prices(make_settings(tmp_path))["selector"] == TokenPrice(
        0.1, 0.5, 0.01
    )  # gpt-6-luna, the default table
    monkeypatch.setenv(
        "MODEL_PRICES", json.dumps({"local-llama": {"input": 0.0, "output": 0.0}, "x": {"input": 1, "output": 2}})
    )
    config = tmp_path / "models.yaml"
    config.write_text(
        "default:\n  provider: autogen_ext.models.openai.OpenAIChatCompletionClient\n  config:\n    model: local-llama\n"
        "manager:\n  provider: autogen_ext.models.openai.OpenAIChatCompletionClient\n  config:\n    model: x\n"
    )
    from app.core.settings import Settings

    settings = Settings(_env_file=None, model_config_file=config)
    prices = role_prices(settings)
    assert prices["manager"] == TokenPrice(1.0, 2.0)
    assert prices["researcher"] == prices["selector"] == TokenPrice(0.0, 0.0)
