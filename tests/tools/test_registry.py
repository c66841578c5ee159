"""build_researcher_tools: the four FunctionTools the Researcher gets, their schemas, and a call through AutoGen's
tool interface against the fixture server."""

from __future__ import annotations

import pytest
from autogen_core import CancellationToken
from autogen_core.tools import BaseTool

from tests.support.fixture_server import FixtureServer
from tools import RESEARCHER_TOOL_NAMES, build_researcher_tools
from tools.config import ToolSettings


def test_names_and_model_facing_arguments(settings: ToolSettings) -> None:
    tools = build_researcher_tools(settings)
    assert (
        [tool.name for tool in tools]
        == list(RESEARCHER_TOOL_NAMES)
        == ["web_search", "fetch_web_content", "wikipedia_search", "arxiv_search"]
    )
    assert all(isinstance(tool, BaseTool) for tool in tools)
    parameters = {tool.name: tool.schema["parameters"] for tool in tools}
    assert {name: sorted(p["properties"]) for name, p in parameters.items()} == {
        "web_search": ["max_results", "query"],
        "fetch_web_content": ["url"],
        "wikipedia_search": ["query"],
        "arxiv_search": ["max_results", "query"],
    }
    assert {name: p["required"] for name, p in parameters.items()} == {
        "web_search": ["query"],
        "fetch_web_content": ["url"],
        "wikipedia_search": ["query"],
        "arxiv_search": ["query"],
    }
    for tool in tools:
        description = tool.schema["description"]
        assert 40 < len(description) < 600 and "settings" not in description
        assert all(prop.get("description") for prop in tool.schema["parameters"]["properties"].values())


async def test_tools_run_through_autogen(settings: ToolSettings, fixture_server: FixtureServer) -> None:
    tools = {tool.name: tool for tool in build_researcher_tools(settings)}
    token = CancellationToken()
    page = await tools["fetch_web_content"].run_json({"url": fixture_server.url("/pages/plain.txt")}, token)
    assert "station_id" in tools["fetch_web_content"].return_value_as_string(page)
    wiki = await tools["wikipedia_search"].run_json({"query": "Alan Turing"}, token)
    assert "https://en.wikipedia.org/wiki/Alan_Turing" in str(wiki)
    papers = await tools["arxiv_search"].run_json({"query": "transformer", "max_results": 1}, token)
    assert "1. Attention Is All You Need" in str(papers) and "\n2. " not in str(papers)
    found = await tools["web_search"].run_json({"query": "python asyncio event loop"}, token)
    assert "from DuckDuckGo" in str(found)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "env-key-42")
    monkeypatch.setenv("GOOGLE_CSE_ID", "env-cx")
    monkeypatch.setenv("FETCH_ALLOW_HOSTS", "127.0.0.1:8001, fixtures.test")
    monkeypatch.setenv("CODE_EXECUTOR", "docker")
    monkeypatch.setenv("TOOL_OUTPUT_MAX_CHARS", "3000")
    settings = ToolSettings(_env_file=None)
    assert settings.google_configured and settings.secret_values() == ["env-key-42"]
    assert "env-key-42" not in repr(settings)
    assert settings.fetch_allow_hosts == ["127.0.0.1:8001", "fixtures.test"]
    assert settings.uses_sandbox_service and settings.tool_output_max_chars == 3000


def test_defaults_point_at_the_real_services() -> None:
    settings = ToolSettings(_env_file=None)
    assert settings.google_cse_url == "https://www.googleapis.com/customsearch/v1"
    assert settings.ddg_url == "https://html.duckduckgo.com/html/"
    assert settings.wikipedia_api_url == "https://en.wikipedia.org/w/api.php"
    assert settings.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert settings.fetch_allow_hosts == [] and not settings.google_configured and settings.secret_values() == []
    assert settings.tool_output_max_chars == 4000 and settings.fetch_max_redirects == 5
