"""The Manager's two tools: `delegate(agent, instructions)` and `finish(answer, sources)`.

Routing and termination read these calls (see agents/manager/moves.py) instead of parsing prose, and the final answer
and its sources come from finish()'s arguments. Both tools are strict (every argument required, the agent an
enum), so a provider that honours strict schemas can only produce well-formed calls; the tools themselves do
nothing but acknowledge. The Manager's chat message for a call (a ToolCallSummaryMessage) is written in the
text grammar ("... NEXT AGENT: Researcher"), so the page, the selector model and the workers read one grammar
whether the Manager called a tool or wrote the words.

One decision per Manager turn: a decision tool is exclusive. A response that calls a decision tool
(`DECISION_TOOLS`) must hold no other tool call, and its text no other decision (TERMINATE, or NEXT AGENT for
another worker); otherwise none of it counts, and the turn is a stall that asks the Manager once more to decide
(agents/manager/moves.py, agents/manager/run_control.py). Every tool the Manager may get later is either a decision tool (add
its name to `DECISION_TOOLS`) or not; either way a decision call shares its response with nothing. Where the
API takes it, the Manager's requests also ask for at most one call (`parallel_tool_calls: false`,
agents/manager/steering.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResult
from autogen_core.tools import FunctionTool

DELEGATE, FINISH = "delegate", "finish"
DECISION_TOOLS = frozenset({DELEGATE, FINISH})  # exclusive: see the module docstring


def manager_tools(workers: Sequence[str]) -> tuple[FunctionTool, FunctionTool]:
    """(delegate, finish) for a team with these workers."""
    worker_names: Any = Literal[tuple(workers)]  # an enum in the JSON schema: the model can only name a worker

    async def delegate(agent: str, instructions: str) -> str:
        return f"{agent} is on it."

    # Set at run time (annotations are strings under `from __future__ import annotations`).
    delegate.__annotations__["agent"] = worker_names

    async def finish(answer: str, sources: list[str]) -> str:
        return "Answer delivered."

    return (
        FunctionTool(delegate, name=DELEGATE, description="Give one worker the next step.", strict=True),
        FunctionTool(
            finish, name=FINISH, description="The final answer and its source URLs; ends the run.", strict=True
        ),
    )


def summarize_call(call: FunctionCall, result: FunctionExecutionResult) -> str:
    """The Manager's chat message for one of its tool calls, in the text grammar."""
    args = call_arguments(call)
    if result.is_error or args is None:
        return f"({call.name} failed: {result.content})"
    if call.name == DELEGATE:
        return f"{args.get('instructions', '')}\nNEXT AGENT: {args.get('agent', '')}".strip()
    if call.name == FINISH:
        sources = [str(s) for s in args.get("sources") or []]
        listed = "".join(f"\n- {s}" for s in sources)
        return f"{args.get('answer', '')}" + (f"\n\nSources:{listed}" if sources else "")
    return str(result.content)


def call_arguments(call: FunctionCall) -> dict[str, Any] | None:
    """The call's arguments as a dict, or None when they are not a JSON object."""
    try:
        args = json.loads(call.arguments)
    except ValueError:
        return None
    return args if isinstance(args, dict) else None
