"""AutoGen 0.7.5 builds every tool's JSON schema again (pydantic `model_json_schema()`) on every model call:
`StaticWorkbench.list_tools()` reads `BaseTool.schema`, a property that regenerates it. Under load that was a
quarter of a worker's CPU (py-spy, bench/scale_load.py). A tool's schema depends only on what it was built with
(argument model, name, description, strict), so it is computed once per tool and copied out.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from autogen_core.tools import BaseTool, ToolSchema

_ORIGINAL = cast(property, vars(BaseTool)["schema"])
_CACHE_ATTRIBUTE = "_research_team_schema"


def _cached_schema(tool: BaseTool[Any, Any]) -> ToolSchema:
    cached: ToolSchema | None = tool.__dict__.get(_CACHE_ATTRIBUTE)
    if cached is None:
        assert _ORIGINAL.fget is not None
        cached = _ORIGINAL.fget(tool)
        tool.__dict__[_CACHE_ATTRIBUTE] = cached
    return copy.deepcopy(cached)  # callers may change what they get; the cache stays as built


def cache_tool_schemas() -> None:
    """Install the cache (idempotent). Tools that define their own `schema` are left alone."""
    if vars(BaseTool)["schema"] is _ORIGINAL:
        BaseTool.schema = property(_cached_schema)  # type: ignore[method-assign,assignment]  # see module docstring
