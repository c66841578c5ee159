"""The pieces of routing and finishing on their own: the NEXT AGENT grammar (in Python and in JavaScript),
reading the Manager's moves, the selector's rules, the agents' model contexts, and the final answer."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from autogen_agentchat.messages import TextMessage, ToolCallSummaryMessage
from autogen_core import FunctionCall
from autogen_core.model_context import ChatCompletionContextState
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)

from agents.manager.contexts import ManagerContext, WorkerContext
from agents.manager.moves import MoveKind, Via, read_move
from agents.manager.routing import NEXT_AGENT_PATTERN, make_selector, named_next_agent
from agents.manager.run_control import RunControl
from agents.manager.steering import compact_schema
from agents.models.budget import BudgetTracker
from agents.models.metering import UsageMeter
from agents.session.autogen_events import extract_answer

WORKERS = ["Researcher", "Developer"]
NAMED = [
    ("TASK: x\nNEXT AGENT: Researcher", "Researcher"),
    ("NEXT AGENT: **Researcher**", "Researcher"),
    ("next agent : `developer`", "Developer"),
    ("**NEXT AGENT:** Researcher", "Researcher"),  # a bold label, as models write it
    ("NEXT AGENT: Manager", None),
    ("NEXT AGENT: Researcher\nmore\nNEXT AGENT: Developer", "Developer"),  # the last one counts
    ("The next agent should be the Researcher", None),
]


@pytest.mark.parametrize("text, expected", NAMED)
def test_next_agent_grammar(text: str, expected: str | None) -> None:
    assert named_next_agent(text, WORKERS) == expected


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_next_agent_pattern_means_the_same_in_javascript() -> None:
    script = (
        "const re = new RegExp(process.argv[1], 'gi');"
        "const texts = JSON.parse(process.argv[2]);"
        "console.log(JSON.stringify(texts.map(t => [...t.matchAll(re)].map(m => m[1]))));"
    )
    texts = [text for text, _ in NAMED]
    out = subprocess.run(
        ["node", "-e", script, NEXT_AGENT_PATTERN, json.dumps(texts)], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout)
    for (text, expected), names in zip(NAMED, found, strict=True):
        in_js = next((n.capitalize() for n in reversed(names) if n.capitalize() in WORKERS), None)
        assert in_js == expected, text


def manager_text(text: str) -> TextMessage:
    return TextMessage(content=text, source="Manager")


def summary(name: str, arguments: dict[str, object], *, error: bool = False) -> ToolCallSummaryMessage:
    call = FunctionCall(id="call_1", name=name, arguments=json.dumps(arguments))
    result = FunctionExecutionResult(call_id="call_1", name=name, content="ok", is_error=error)
    return ToolCallSummaryMessage(content="...", source="Manager", tool_calls=[call], results=[result])


@pytest.mark.parametrize(
    "message, kind, via, agent",
    [
        (
            summary("delegate", {"agent": "Developer", "instructions": "Compute it."}),
            MoveKind.DELEGATE,
            Via.TOOL,
            "Developer",
        ),
        (summary("finish", {"answer": "42.", "sources": []}), MoveKind.FINISH, Via.TOOL, None),
        (summary("finish", {"answer": "", "sources": []}), MoveKind.NONE, Via.TOOL, None),
        (summary("delegate", {"agent": "Developer", "instructions": "x"}, error=True), MoveKind.NONE, Via.TOOL, None),
        (summary("delegate", {"agent": "Nobody", "instructions": "x"}), MoveKind.NONE, Via.TOOL, None),
        (manager_text("It is 42.\nTERMINATE"), MoveKind.FINISH, Via.TEXT, None),
        (manager_text("Find it.\nNEXT AGENT: Researcher"), MoveKind.DELEGATE, Via.TEXT, "Researcher"),
        (manager_text("Researcher, please find the weather."), MoveKind.DELEGATE, Via.PROSE, "Researcher"),
        (manager_text("@Developer: compute 2+2"), MoveKind.DELEGATE, Via.PROSE, "Developer"),
        (manager_text("Researcher, find it. Developer: then compute."), MoveKind.DELEGATE, Via.PROSE, "Researcher"),
        (manager_text("Researcher, find it.\nDeveloper, compute."), MoveKind.NONE, Via.PROSE, None),  # ambiguous
        (manager_text("Here is the answer: 42. Source: https://x.example/a"), MoveKind.NONE, Via.PROSE, None),
    ],
)
def test_reading_the_managers_move(message: object, kind: MoveKind, via: Via, agent: str | None) -> None:
    move = read_move(message, WORKERS)  # type: ignore[arg-type]
    assert (move.kind, move.via, move.agent) == (kind, via, agent)


def test_selector_rules() -> None:
    select = make_selector("Manager", WORKERS)
    user = TextMessage(content="Weather in Paris? NEXT AGENT: Developer", source="user")
    report = TextMessage(content="18°C (https://w.example)", source="Researcher")
    assert select([]) == "Manager"
    assert select([user]) == "Manager"  # the task's words never route
    assert select([user, summary("delegate", {"agent": "Researcher", "instructions": "Go."})]) == "Researcher"
    assert select([user, manager_text("Someone find the weather.")]) is None  # opening, undecided: the model
    assert select([user, manager_text("Go.\nNEXT AGENT: Researcher"), report]) == "Manager"
    # Undecided after a report (usually an answer without finish): the Manager again, forced to decide.
    assert select([user, manager_text("x\nNEXT AGENT: Researcher"), report, manager_text("It is 18°C.")]) == "Manager"


def test_selector_sends_the_budget_wrap_up_to_the_manager_even_when_the_model_selects() -> None:
    control = RunControl(BudgetTracker(UsageMeter()))
    delegation = [TextMessage(content="t", source="user"), manager_text("Go.\nNEXT AGENT: Researcher")]
    assert make_selector("Manager", WORKERS, control, deterministic=False)(delegation) is None
    control.wrap_up = True
    assert make_selector("Manager", WORKERS, control)(delegation) == "Manager"
    assert make_selector("Manager", WORKERS, control, deterministic=False)(delegation) == "Manager"


def call(name: str, **arguments: object) -> FunctionCall:
    return FunctionCall(id=f"c_{name}", name=name, arguments=json.dumps(arguments))


def result(name: str, content: str) -> FunctionExecutionResultMessage:
    return FunctionExecutionResultMessage(
        content=[FunctionExecutionResult(call_id=f"c_{name}", name=name, content=content, is_error=False)]
    )


async def test_worker_context_holds_facts_instruction_and_its_own_loop_only() -> None:
    context = WorkerContext("Researcher", manager="Manager", workers=WORKERS)
    history: list[LLMMessage] = [
        UserMessage(content="Weather in Paris?", source="user"),
        UserMessage(content="Search the weather.\nNEXT AGENT: Researcher", source="Manager"),
        AssistantMessage(content=[call("web_search", query="paris")], source="Researcher"),
        result("web_search", "a very long page " * 200),
        AssistantMessage(content="Paris: 18°C (https://w.example).", source="Researcher"),
        UserMessage(content="Paris is 18°C.\n\nSources:\n- https://w.example", source="Manager"),
        UserMessage(content="And in Celsius times two?", source="user"),
        UserMessage(content="Compute 18*2.\nNEXT AGENT: Developer", source="Manager"),
        UserMessage(content="36.", source="Developer"),
        UserMessage(content="Check Lyon too.\nNEXT AGENT: Researcher", source="Manager"),
        AssistantMessage(content=[call("web_search", query="lyon")], source="Researcher"),
        result("web_search", "Lyon 16°C"),
    ]
    for message in history:
        await context.add_message(message)
    view = await context.get_messages()
    assert [getattr(m, "content", None) for m in view] == [
        "Paris: 18°C (https://w.example).",  # facts: my report, the Developer's
        "36.",
        "Check Lyon too.\nNEXT AGENT: Researcher",  # the current instruction and my loop for it
        history[10].content,
        history[11].content,
    ]
    stored = ChatCompletionContextState.model_validate(await context.save_state()).messages
    assert stored == history  # the view leaves messages out; the context (and a checkpoint) keeps them all


async def test_manager_context_folds_past_runs_and_says_why_a_turn_is_forced() -> None:
    control = RunControl(BudgetTracker(UsageMeter()))
    context = ManagerContext("Manager", control=control)
    history: list[LLMMessage] = [
        UserMessage(content="Weather in Paris?", source="user"),
        AssistantMessage(content=[call("delegate", agent="Researcher", instructions="Find it.")], source="Manager"),
        result("delegate", "Researcher is on it."),
        UserMessage(content="Paris: 18°C.", source="Researcher"),
        AssistantMessage(content=[call("finish", answer="It is 18°C.", sources=[])], source="Manager"),
        result("finish", "Answer delivered."),
        UserMessage(content="And tomorrow?", source="user"),
        AssistantMessage(content="Let me think.", source="Manager"),
    ]
    for message in history:
        await context.add_message(message)
    view = await context.get_messages()
    assert [m.content for m in view[:2]] == ["Weather in Paris?", "It is 18°C."]  # the past run, folded
    assert view[2:] == history[6:]  # the current run in full
    control.note_move(read_move(manager_text("Let me think."), WORKERS))
    forced = await context.get_messages()
    assert isinstance(forced[-1], SystemMessage) and "neither delegated nor finished" in forced[-1].content
    assert forced[:-1] == view  # the note only appends: the prefix stays cacheable


async def test_stored_context_is_bounded_and_never_splits_a_tool_call_from_its_result() -> None:
    context = WorkerContext("Researcher", manager="Manager", workers=WORKERS, max_stored=10)
    for run in range(6):
        await context.add_message(UserMessage(content=f"task {run}", source="user"))
        await context.add_message(AssistantMessage(content=[call("web_search", q=run)], source="Researcher"))
        await context.add_message(result("web_search", f"result {run}"))
    stored = ChatCompletionContextState.model_validate(await context.save_state()).messages  # what a checkpoint keeps
    assert len(stored) <= 10 and isinstance(stored[0], UserMessage)
    assert stored[-1] == result("web_search", "result 5")


def test_extract_answer_prefers_finish_then_terminate_then_best_text() -> None:
    user = TextMessage(content="Weather?", source="user")
    report = TextMessage(content="Paris: 18°C (https://w.example/p).", source="Researcher")
    finished = summary("finish", {"answer": "It is 18°C.", "sources": ["https://w.example/p", "https://b.example"]})
    answer = extract_answer([user, report, finished], "Manager")
    assert (answer.text, answer.sources, answer.complete) == (
        "It is 18°C.",
        ["https://w.example/p", "https://b.example"],
        True,
    )
    terminated = manager_text("It is 18°C. Source: https://w.example/p\nTERMINATE")
    answer = extract_answer([user, report, terminated], "Manager")
    assert answer.text == "It is 18°C. Source: https://w.example/p" and answer.sources == ["https://w.example/p"]
    # No final answer: the best text so far, never a delegation, marked incomplete.
    delegated = manager_text("Find more.\nNEXT AGENT: Researcher")
    answer = extract_answer([user, report, delegated], "Manager")
    assert (answer.text, answer.complete) == (report.content, False)
    given = extract_answer([user, report, terminated], "Manager")
    assert (given.text, given.complete) == ("It is 18°C. Source: https://w.example/p", True)
    # A bare TERMINATE: the answer is the text before it, and it counts as given.
    terminated_bare = extract_answer([user, report, manager_text("TERMINATE")], "Manager")
    assert (terminated_bare.text, terminated_bare.complete) == (report.content, True)


def test_compact_tool_schema_drops_titles_and_echoed_descriptions() -> None:
    schema = {
        "name": "web_search",
        "description": "Search the web.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"title": "Query", "type": "string", "description": "query"},
                "max_results": {"title": "Max Results", "type": "integer", "description": "How many, 1-10."},
            },
            "required": ["query"],
        },
        "strict": False,
    }
    compact = compact_schema(schema)  # type: ignore[arg-type]
    assert compact["parameters"]["properties"] == {
        "query": {"type": "string"},
        "max_results": {"type": "integer", "description": "How many, 1-10."},
    }
    assert compact["parameters"]["required"] == ["query"] and compact["strict"] is False
