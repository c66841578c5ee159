"""The team's tools. `build_researcher_tools` gives the Researcher its four tools with the settings bound;
`tools.code_execution.CodeSandbox` gives the Developer its code tool.

Imports stay inside the function so that light modules of this package (process_runner, confine) can be used
without AutoGen, as the sandbox image does.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    from autogen_core.tools import BaseTool

    from tools.config import ToolSettings

_ARGUMENT = re.compile(r"^(query|max_results|url):")
RESEARCHER_TOOL_NAMES = ("web_search", "fetch_web_content", "wikipedia_search", "arxiv_search")


def build_researcher_tools(settings: ToolSettings) -> list[BaseTool[Any, Any]]:
    """FunctionTools named web_search, fetch_web_content, wikipedia_search and arxiv_search. Their JSON
    schemas expose only what the model chooses (query, max_results, url)."""
    from autogen_core.tools import FunctionTool

    from tools import arxiv_search as arxiv_module
    from tools import fetch as fetch_module
    from tools import web_search as web_module
    from tools import wikipedia_search as wiki_module
    from tools.failure import raise_on_failure
    from tools.net_guard import NetGuard

    guard = NetGuard(settings.fetch_allow_hosts, resolve_timeout_s=settings.fetch_connect_timeout_s)

    async def web_search(query: Annotated[str, "What to search for."], max_results: Annotated[int, "1-10"] = 5) -> str:
        return raise_on_failure(await web_module.web_search(query, max_results, settings=settings))

    async def fetch_web_content(url: str) -> str:  # the tool's description says what the URL must be
        return raise_on_failure(await fetch_module.fetch_web_content(url, settings=settings, guard=guard))

    async def wikipedia_search(query: Annotated[str, "Topic, name or term, e.g. 'Alan Turing'."]) -> str:
        return raise_on_failure(await wiki_module.wikipedia_search(query, settings=settings))

    async def arxiv_search(
        query: Annotated[
            str,
            "Keywords (all must match), an arXiv id (1706.03762) or fields: 'ti:transformer AND au:vaswani' "
            "(ti title, au author, abs abstract, cat category)",
        ],
        max_results: Annotated[int, "1-20"] = 5,
    ) -> str:
        return raise_on_failure(await arxiv_module.arxiv_search(query, max_results, settings=settings))

    bound: list[tuple[Callable[..., Awaitable[str]], Callable[..., Any]]] = [
        (web_search, web_module.web_search),
        (fetch_web_content, fetch_module.fetch_web_content),
        (wikipedia_search, wiki_module.wikipedia_search),
        (arxiv_search, arxiv_module.arxiv_search),
    ]
    return [
        FunctionTool(wrapper, description=_model_description(original), name=wrapper.__name__)
        for wrapper, original in bound
    ]


def _model_description(function: Any) -> str:
    """The tool's docstring, written for the model, without its argument paragraphs (the schema has those)."""
    paragraphs = (inspect.getdoc(function) or "").split("\n\n")
    kept = [p for p in paragraphs if not _ARGUMENT.match(p)]
    return " ".join(" ".join(p.split()) for p in kept)
