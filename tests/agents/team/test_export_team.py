"""`research-team export-team`: AutoGen component JSON that loads back into an equivalent team (same agents,
tools and routing), with no key in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.messages import TextMessage

from agents.team import export
from agents.team.export import ProjectTool, RoutedSelectorGroupChat, export_component, load_team
from tests.support.scripted import developer_tools

CLI = str(Path(sys.executable).with_name("research-team"))
SECRET = "sk-" + "export-test-never-written-0000"


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "APP_"))}
    env.update(OPENAI_API_KEY=SECRET, MANAGER_MODEL="gpt-4.1", MAX_MESSAGES="33", DETERMINISTIC_SELECTOR="true")
    out = tmp_path / "team.json"
    done = subprocess.run([CLI, "export-team", "-o", str(out)], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    text = out.read_text()
    assert SECRET not in text and "api_key" not in text
    data: dict[str, Any] = json.loads(text)
    return data


def tools_of(team: RoutedSelectorGroupChat) -> dict[str, list[str]]:
    config = export_component(team)["config"]
    return {
        agent["config"]["name"]: [
            t["config"]["name"] for wb in agent["config"]["workbench"] for t in wb["config"]["tools"]
        ]
        for agent in config["participants"]
    }


def test_exported_team_loads_back_equivalent(exported: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert exported["provider"] == "agents.team.export.RoutedSelectorGroupChat"
    assert exported["config"]["routing"] == {
        "manager": "Manager",
        "workers": ["Researcher", "Developer"],
        "deterministic": True,
    }
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loaded-from-env")
    scripted = {t.name: t for t in developer_tools("export-test")}
    monkeypatch.setitem(export.TOOL_RESOLVERS, "developer", scripted.__getitem__)

    team = load_team(exported)

    assert export_component(team) == exported  # the round trip is a fixed point: agents, models, tools, routing
    assert tools_of(team) == {
        "Manager": ["delegate", "finish"],
        "Researcher": ["web_search", "fetch_web_content", "wikipedia_search", "arxiv_search"],
        "Developer": ["run_python"],
    }
    participants = exported["config"]["participants"]
    assert participants[0]["config"]["model_client"]["config"]["model"] == "gpt-4.1"
    assert "MaxMessageTermination" in json.dumps(exported["config"]["termination_condition"])
    assert '"max_messages": 33' in json.dumps(exported["config"]["termination_condition"])
    # The loaded tools are the real ones, resolved by name.
    developer = next(p for p in team._participants if p.name == "Developer")
    assert isinstance(developer, AssistantAgent)
    resolved = [t for wb in developer._workbench for t in wb._tools]  # type: ignore[attr-defined]
    assert all(isinstance(t, ProjectTool) for t in resolved) and resolved[0].inner is scripted["run_python"]
    # The routing survived as behaviour, not only as data.
    select = team._selector_func
    assert select is not None
    asked = TextMessage(source="user", content="How many primes are below 100?")
    assert select([asked]) == "Manager"
    plan = TextMessage(source="Manager", content="TASK: Count them in Python.\nNEXT AGENT: Developer")
    assert select([asked, plan]) == "Developer"
    report = TextMessage(source="Developer", content="There are 25.")
    assert select([asked, plan, report]) == "Manager"


def test_loading_something_else_is_refused() -> None:
    with pytest.raises(ValueError):
        load_team({"provider": "autogen_agentchat.teams.RoundRobinGroupChat", "component_type": "team", "config": {}})


def test_a_team_exported_before_the_move_still_loads_and_warns(
    exported: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Team JSON written before agents/export.py moved names its classes by the old path: it loads, with a
    warning that names the new one."""
    old = json.loads(json.dumps(exported).replace("agents.team.export.", "agents.export."))
    assert old["provider"] == "agents.export.RoutedSelectorGroupChat"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loaded-from-env")
    scripted = {t.name: t for t in developer_tools("export-test")}
    monkeypatch.setitem(export.TOOL_RESOLVERS, "developer", scripted.__getitem__)
    monkeypatch.delitem(sys.modules, "agents.export", raising=False)
    with pytest.warns(DeprecationWarning, match="agents.team.export"):
        team = load_team(old)
    assert tools_of(team) == tools_of(load_team(exported))
