"""What real models do that scripted ones never did, each played once by the fake OpenAI server in an otherwise
normal run through the real AutoGen OpenAI client (issue #30): the team must still end with the researched answer
and its source, within the default budget, without the selector model (SELECTOR_MODEL is a shut-down model
here: asking it would show as a refused request), and at a known cost in model calls.

A normal run costs 3 calls: Manager delegate(), Researcher search, Manager finish(): the search results answer
the instruction, so they reach the Manager as they are, without a Researcher turn that restates them (issue 28).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
from autogen_agentchat.messages import TextMessage, ThoughtEvent, ToolCallSummaryMessage
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResult

from agents.manager.moves import MoveKind, manager_moves
from agents.manager.routing import make_selector
from agents.manager.run_control import NOTES, RunControl
from agents.models.budget import BudgetTracker
from agents.models.metering import UsageMeter
from tests.fakes.chat import Reply, ToolCall, ToolCalls, cut_off, empty, filtered, refusal, tool_call, tool_calls
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import live_app, openai_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE

pytestmark = [
    pytest.mark.fake_openai(extra_models=["my-local-model"]),  # an OpenAI-compatible server's model
    pytest.mark.filterwarnings("ignore:Finish reason mismatch"),  # AutoGen's, on a cut-off tool call
]

WORKERS = ["Researcher", "Developer"]
INSTRUCTIONS = {"agent": "Researcher", "instructions": "Find the current weather in Paris, with its source."}
GUESS = "It is probably raining in Paris."
DELEGATE = tool_call("delegate", INSTRUCTIONS)
FINISH = tool_call("finish", {"answer": PARIS_ANSWER, "sources": [PARIS_SOURCE]})
SEARCH = tool_call("web_search", {"query": "current weather in Paris"})
NORMAL_CALLS = 3


@dataclass(frozen=True)
class Misbehaviour:
    manager: tuple[Reply, ...]  # the Manager's replies up to (not including) its finish()
    researcher_first: Reply = SEARCH
    extra_calls: int = 1  # model calls the recovery costs over a normal run
    note: str | None = None  # NOTES key of the Manager's forced turn (None: no forced turn)
    manager_model: str | None = None


CASES = {
    "three parallel searches from the Researcher": Misbehaviour(
        (DELEGATE,),
        researcher_first=tool_calls(
            ("web_search", {"query": "weather Paris now"}),
            ("web_search", {"query": "Paris forecast today"}),
            ("web_search", {"query": "Météo Paris"}),
        ),
        extra_calls=0,
    ),
    "delegate() with cut-off JSON arguments": Misbehaviour((cut_off(DELEGATE), DELEGATE), note="failed"),
    "an empty turn": Misbehaviour((empty(), DELEGATE), note="empty"),
    "a turn cut off by the token limit": Misbehaviour(
        (cut_off("I will ask the Researcher to look up the current weather in Paris."), DELEGATE), note="cut"
    ),
    "a refusal in the refusal field": Misbehaviour((refusal(), DELEGATE), note="empty"),
    "a turn stopped by the content filter": Misbehaviour((filtered(), DELEGATE), note="filtered"),
    # parallel_tool_calls is sent for OpenAI's models, so the fake (like the API) allows them one call: there the
    # second decision can only come as text. A model the team does not know gets no parallel_tool_calls.
    "delegate() and finish() in one response": Misbehaviour(
        (tool_calls(("delegate", INSTRUCTIONS), ("finish", {"answer": GUESS, "sources": []})), DELEGATE),
        note="several",
        manager_model="my-local-model",
    ),
    "delegate() beside a final answer in text": Misbehaviour(
        (ToolCalls(DELEGATE.calls, content=f"{GUESS}\nTERMINATE"), DELEGATE), note="several"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_each_misbehaviour_ends_with_the_researched_answer(
    name: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    case = CASES[name]
    chat = fake_openai.chat
    chat.add("manager", *case.manager, FINISH)
    chat.add("researcher", case.researcher_first)
    settings = {"selector_model": "gpt-4.1-nano"}  # shut down: the fake answers 404 if it is ever asked
    if case.manager_model:
        settings["manager_model"] = case.manager_model
    async with live_app(openai_app(tmp_path, fake_openai, **settings)) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until_type("run_finished", timeout=30)
        await client.close()
    data = done["data"]
    assert data["stop_reason"] == "completed" and data["complete"] is True, data
    assert data["final_answer"] == PARIS_ANSWER and data["sources"] == [PARIS_SOURCE]
    assert GUESS not in json.dumps(data)
    assert data["usage"]["model_calls"] == NORMAL_CALLS + case.extra_calls == len(chat.requests)
    assert chat.count("researcher") == 1 and chat.count("selector") == 0 and not chat.refused  # no restating turn
    manager = chat.calls("manager")
    assert len(manager) == len(case.manager) + 1
    if case.note is not None:  # the turn after the misbehaviour is forced to decide, and says why
        forced = manager[1].body
        assert forced["tool_choice"] == "required" and forced["messages"][-1]["content"] == NOTES[case.note]
    takes_one_call = case.manager_model is None
    for request in manager:
        assert request.body.get("parallel_tool_calls") is (False if takes_one_call else None)
    assert all("parallel_tool_calls" not in r.body for r in chat.calls("researcher"))
    fake_openai.assert_clean()


async def test_delegate_and_finish_again_and_again_never_ends_a_run_as_completed(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    both = tool_calls(("delegate", INSTRUCTIONS), ("finish", {"answer": GUESS, "sources": []}))
    fake_openai.chat.add("manager", both, both)
    async with live_app(openai_app(tmp_path, fake_openai, manager_model="my-local-model")) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until_type("run_finished", timeout=30)
        await client.close()
    assert done["data"]["stop_reason"] == "no_progress" and done["data"]["complete"] is False
    assert GUESS not in done["data"]["final_answer"] and done["data"]["sources"] == []
    assert fake_openai.chat.count("researcher") == 0
    fake_openai.assert_clean()


# ---- the pieces ------------------------------------------------------------------------------------------


def _summary(*calls: tuple[str, Mapping[str, object]]) -> ToolCallSummaryMessage:
    function_calls = [FunctionCall(id=f"c{i}", name=n, arguments=json.dumps(a)) for i, (n, a) in enumerate(calls)]
    results = [FunctionExecutionResult(call_id=c.id, name=c.name, content="ok") for c in function_calls]
    return ToolCallSummaryMessage(content="...", source="Manager", tool_calls=function_calls, results=results)


FINISHED = ("finish", {"answer": "42.", "sources": []})
DELEGATED = ("delegate", INSTRUCTIONS)


@pytest.mark.parametrize(
    "turn, kind",
    [
        ([_summary(DELEGATED, FINISHED)], MoveKind.NONE),
        ([_summary(FINISHED, DELEGATED)], MoveKind.NONE),
        ([_summary(DELEGATED, DELEGATED)], MoveKind.NONE),
        ([_summary(FINISHED, ("web_search", {"query": "x"}))], MoveKind.NONE),  # a decision call is exclusive
        ([ThoughtEvent(content="Done.\nTERMINATE", source="Manager"), _summary(DELEGATED)], MoveKind.NONE),
        ([ThoughtEvent(content="NEXT AGENT: Developer", source="Manager"), _summary(DELEGATED)], MoveKind.NONE),
        ([ThoughtEvent(content="NEXT AGENT: Researcher", source="Manager"), _summary(DELEGATED)], MoveKind.DELEGATE),
        ([ThoughtEvent(content=GUESS, source="Manager"), _summary(DELEGATED)], MoveKind.DELEGATE),  # prose
        ([ThoughtEvent(content="Answer:\nTERMINATE", source="Manager"), _summary(FINISHED)], MoveKind.FINISH),
        ([ThoughtEvent(content="x TERMINATE", source="Researcher"), _summary(DELEGATED)], MoveKind.DELEGATE),
    ],
)
def test_one_decision_per_turn(turn: list[ThoughtEvent | ToolCallSummaryMessage], kind: MoveKind) -> None:
    (move,) = manager_moves(turn, "Manager", WORKERS)
    assert move.kind == kind
    if kind == MoveKind.NONE:
        assert move.stall == "several"


@pytest.mark.parametrize("finish_reason, content", [("stop", ""), ("length", "I will ask"), ("content_filter", "")])
def test_a_broken_opening_turn_goes_back_to_the_manager_without_the_selector(finish_reason: str, content: str) -> None:
    control = RunControl(BudgetTracker(UsageMeter()))
    select = make_selector("Manager", WORKERS, control)
    thread = [TextMessage(content="Weather?", source="user"), TextMessage(content=content, source="Manager")]
    control.note_reply("stop", "Let me think.")
    assert select([thread[0], TextMessage(content="Let me think.", source="Manager")]) is None  # open: the model
    control.note_reply(finish_reason, content)
    assert select(thread) == "Manager"


def test_the_fake_plays_each_misbehaviour_through_the_sdk(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.sync_client(max_retries=0)
    tools = [{"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}]
    messages = [{"role": "user", "content": "hi"}]
    fake_openai.chat.add(
        "unknown",
        empty(),
        refusal("No."),
        cut_off("abcdefgh"),
        filtered(),
        cut_off(ToolCalls((ToolCall("ping", {"text": "abcdefgh"}),))),
    )
    replies = [
        client.chat.completions.create(model="gpt-4.1", messages=messages, tools=tools).choices[0] for _ in range(5)
    ]
    assert (replies[0].message.content, replies[0].finish_reason) == ("", "stop")
    assert (replies[1].message.content, replies[1].message.refusal) == (None, "No.")
    assert (replies[2].message.content, replies[2].finish_reason) == ("abcd", "length")
    assert replies[3].finish_reason == "content_filter"
    cut = replies[4].message.tool_calls
    assert replies[4].finish_reason == "length" and cut is not None and cut[0].function.arguments == '{"text": "'
    one = {"model": "gpt-4.1", "messages": messages, "tools": tools, "parallel_tool_calls": False}
    fake_openai.chat.add("unknown", tool_calls(("ping", {}), ("ping", {})))
    with pytest.raises(openai.InternalServerError, match="parallel_tool_calls is false"):
        client.chat.completions.create(**one)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4.1", messages=messages, parallel_tool_calls=False)
    assert refused.value.param == "parallel_tool_calls"
