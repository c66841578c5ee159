"""`research-team doctor`, the real console script, as a user runs it before the first question, against the
fake OpenAI (which serves models, shutdown dates and refusals the way OpenAI does today)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.chat import dynamic, tool_call
from tests.fakes.models import FakeModel
from tests.fakes.server import FakeOpenAI
from tests.support.cli import arun, cli_env


def answer_probes(fake: FakeOpenAI) -> None:
    """The doctor's probes as a model answers them: the forced tool call where tools are given, a word else."""
    fake.chat.fallback("unknown", dynamic(lambda body: tool_call("ready", {"ok": True}) if body.get("tools") else "ok"))


async def doctor(tmp_path: Path, fake: FakeOpenAI | None, **env: str) -> tuple[int, dict[str, Any], str]:
    """Run `research-team doctor --json` in an empty folder (no .env) with only these settings."""
    clean = cli_env(("OPENAI_", "APP_", "MANAGER_", "REALTIME_"))
    clean.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}", COLUMNS="200")
    if fake is not None:
        clean.update(fake.env())
    clean.update(env)
    code, out, err = await arun("doctor", "--json", cwd=tmp_path, env=clean, timeout=120)
    return code, json.loads(out), err


def by_check(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in report["checks"]}


async def test_all_good_on_the_defaults(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    answer_probes(fake_openai)
    code, report, err = await doctor(tmp_path, fake_openai)
    checks = by_check(report)
    assert code == 0 and report["ok"], (report, err)
    for name in ("model API", "MANAGER_MODEL", "RESEARCHER_MODEL", "DEVELOPER_MODEL", "SELECTOR_MODEL"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "calls tools (strict)" in checks["MANAGER_MODEL"]["detail"]
    assert checks["REALTIME_MODEL"]["status"] == "ok" and "Realtime session opens" in checks["REALTIME_MODEL"]["detail"]
    assert checks["REALTIME_TRANSCRIPTION_MODEL"]["status"] == "ok"
    assert checks["code execution"]["status"] == "ok" and checks["database"]["status"] == "ok"
    probes = [r for r in fake_openai.chat.requests if r.role == "unknown"]
    assert len(probes) == 2  # one model for all four roles: one tool probe, one plain probe for the selector
    tool_probe = next(r for r in probes if r.tools)
    assert tool_probe.body["tools"][0]["function"]["strict"] is True and tool_probe.body["reasoning_effort"] == "none"
    fake_openai.assert_clean()


async def test_a_shut_down_model_fails_and_names_its_setting(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    answer_probes(fake_openai)
    code, report, _ = await doctor(tmp_path, fake_openai, MANAGER_MODEL="gpt-4.1-nano")
    line = by_check(report)["MANAGER_MODEL"]
    assert code == 1 and not report["ok"]
    assert line["status"] == "fail" and "gpt-4.1-nano" in line["detail"] and "MANAGER_MODEL" in line["fix"]
    assert by_check(report)["RESEARCHER_MODEL"]["status"] == "ok"


async def test_a_model_with_a_shutdown_date_warns_with_the_date(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    answer_probes(fake_openai)
    soon = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    fake_openai.models.add(FakeModel("gpt-retiring-soon", shutdown_date=soon))
    code, report, _ = await doctor(tmp_path, fake_openai, RESEARCHER_MODEL="gpt-retiring-soon")
    line = by_check(report)["RESEARCHER_MODEL"]
    assert code == 0, report
    assert line["status"] == "warn" and soon in line["detail"] and "RESEARCHER_MODEL" in line["fix"]


async def test_no_key_fails_and_says_what_to_set(tmp_path: Path) -> None:
    code, report, _ = await doctor(tmp_path, None)
    key = by_check(report)["key"]
    assert code == 1 and key["status"] == "fail" and "OPENAI_API_KEY" in key["detail"] + key["fix"]


@pytest.mark.fake_openai(list_models=False)
async def test_a_base_url_without_a_model_list_warns_and_still_probes(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    answer_probes(fake_openai)
    code, report, _ = await doctor(tmp_path, fake_openai)
    checks = by_check(report)
    assert code == 0, report
    assert checks["model API"]["status"] == "warn" and "/v1/models" in checks["model API"]["detail"]
    assert checks["MANAGER_MODEL"]["status"] == "ok"  # the probe answered, so the model works


async def test_a_reasoning_effort_the_model_refuses_for_tools_fails_with_the_setting(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    answer_probes(fake_openai)
    code, report, _ = await doctor(tmp_path, fake_openai, DEVELOPER_REASONING_EFFORT="high")
    line = by_check(report)["DEVELOPER_MODEL"]
    assert code == 1 and line["status"] == "fail"
    assert "DEVELOPER_REASONING_EFFORT" in line["detail"] + line["fix"]
    assert by_check(report)["MANAGER_MODEL"]["status"] == "ok"


async def test_the_human_output_has_a_mark_and_a_fix_per_line(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    answer_probes(fake_openai)
    env = cli_env(("OPENAI_", "APP_", "MANAGER_"))
    env.update(fake_openai.env(), MANAGER_MODEL="gpt-4.1-nano", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/r.db")
    code, text, _ = await arun("doctor", cwd=tmp_path, env=env, timeout=120)
    assert code == 1
    assert "✗ MANAGER_MODEL:" in text and "→ set MANAGER_MODEL to a current model" in text
    assert "✓ RESEARCHER_MODEL:" in text


async def test_a_model_config_file_is_probed_the_same_way(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """Other providers through AutoGen component configs: here an OpenAI-compatible server's own model name."""
    answer_probes(fake_openai)
    fake_openai.models.add("local-llama")
    config = {
        "default": {
            "provider": "autogen_ext.models.openai.OpenAIChatCompletionClient",
            "config": {
                "model": "local-llama",
                "base_url": fake_openai.base_url,
                "api_key": "sk-local",
                "model_info": {
                    "vision": False,
                    "function_calling": True,
                    "json_output": True,
                    "family": "unknown",
                    "structured_output": False,
                },
            },
        }
    }
    path = tmp_path / "models.json"
    path.write_text(json.dumps(config))
    code, report, _ = await doctor(tmp_path, None, MODEL_CONFIG_FILE=str(path))
    checks = by_check(report)
    assert code == 0, report
    assert checks["key"]["status"] == "ok" and "models.json" in checks["key"]["detail"]
    assert checks["MANAGER_MODEL"]["status"] == "ok" and "calls tools" in checks["MANAGER_MODEL"]["detail"]
    assert {r.model for r in fake_openai.chat.requests} == {"local-llama"}
