"""`research-team export-team`: the team this server would build, as AutoGen component JSON (agents/team/export.py).

Models come from the settings (or MODEL_CONFIG_FILE), tools from the tool settings; the Developer's code tool is
taken from a code sandbox started for the export and stopped right after. No key is written: the clients are
built with a placeholder that agents/team/export.py strips, and a loaded team reads OPENAI_API_KEY itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autogen_core.models import ChatCompletionClient

from agents.manager.tools import manager_tools
from agents.models.clients import clients_from_config_file, openai_client
from agents.team.build import WORKERS
from agents.team.export import export_component as component_of
from agents.team.export import portable_team
from app.core.settings import Settings

ROLES = ("manager", "researcher", "developer", "selector")
PLACEHOLDER_KEY = "not-exported"


def model_clients(settings: Settings) -> dict[str, ChatCompletionClient]:
    if settings.model_config_file is not None:
        return clients_from_config_file(Path(settings.model_config_file))
    return {
        role: openai_client(
            getattr(settings, f"{role}_model"),
            api_key=PLACEHOLDER_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.model_timeout_s,
            max_retries=settings.model_max_retries,
        )
        for role in ROLES
    }


async def export_team(settings: Settings) -> dict[str, Any]:
    from tools import build_researcher_tools
    from tools.code_execution import CodeSandbox

    tool_settings = settings.tools
    sandbox = CodeSandbox.from_settings(tool_settings)
    await sandbox.start()
    try:
        team = portable_team(
            model_clients(settings),
            {
                "manager": list(manager_tools(WORKERS)),
                "researcher": build_researcher_tools(tool_settings),
                "developer": [sandbox.tool_for("export")],
            },
            max_messages=settings.max_messages,
            run_timeout_s=settings.run_timeout_s,
            max_tool_iterations=settings.max_tool_iterations,
            deterministic=settings.deterministic_selector,
        )
        return component_of(team)
    finally:
        await sandbox.stop()
