"""The exported team's loader under its old name: it lives in agents/team/export.py now. Kept because a team JSON
exported before the move names its classes here (`agents.export.RoutedSelectorGroupChat`, `agents.export.ProjectTool`),
and code may import `load_team` from here; both keep working, with a DeprecationWarning."""

from __future__ import annotations

import warnings

from agents.team.export import TOOL_RESOLVERS, ProjectTool, RoutedSelectorGroupChat, export_component, load_team

__all__ = ["TOOL_RESOLVERS", "ProjectTool", "RoutedSelectorGroupChat", "export_component", "load_team"]

warnings.warn(
    "agents.export is now agents.team.export; import load_team from there (old exported JSON still loads)",
    DeprecationWarning,
    stacklevel=2,
)
