"""The caches AutoGen lacks (agents/team/tool_schemas.py): a tool's schema built once and handed out as a copy, and
one argument model per function signature, shared by the teams built for each session."""

from __future__ import annotations

from typing import Annotated

from autogen_core.tools import FunctionTool

from agents.team.tool_schemas import cache_tool_schemas

cache_tool_schemas()  # what create_app and the worker do at startup


def make_tool(answer: str) -> FunctionTool:
    def lookup(query: Annotated[str, "what to look up"], limit: int = 3) -> str:
        return f"{answer}: {query} x{limit}"

    return FunctionTool(lookup, description="Look something up.")


def test_tools_of_one_signature_share_their_argument_model_and_still_behave_apart() -> None:
    first, second = make_tool("one"), make_tool("two")
    assert first.args_type() is second.args_type()

    def lookup(query: Annotated[str, "another description"], limit: int = 3) -> str:
        return query

    other = FunctionTool(lookup, description="Look something up.")
    assert other.args_type() is not first.args_type()  # the annotation differs: its own model
    assert other.schema["parameters"]["properties"]["query"]["description"] == "another description"
    assert first.schema["parameters"]["properties"]["query"]["description"] == "what to look up"


def test_a_changed_schema_does_not_change_the_tool() -> None:
    tool = make_tool("one")
    schema = tool.schema
    schema["parameters"]["properties"].clear()
    schema["name"] = "changed"
    assert tool.schema["name"] == "lookup" and set(tool.schema["parameters"]["properties"]) == {"query", "limit"}
