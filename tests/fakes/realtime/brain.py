"""What the fake realtime model says or does: response plans, the request a brain sees, and `NarratorBrain`.

A brain is any callable `brain(view: SessionView, request: ResponseRequest) -> ResponsePlan` (it may also be a
coroutine function). It is called once per response, when the response is created, with a snapshot of the
conversation at that moment (what the real model would see).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from tests.fakes.realtime.session_config import function_names

__all__ = [
    "Say",
    "Call",
    "Failure",
    "ResponsePlan",
    "ResponseRequest",
    "SessionView",
    "Brain",
    "NarratorBrain",
    "first_sentence",
    "SERVER_ERROR_MESSAGE",
]

SERVER_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! Please contact us through our "
    "help center at help.openai.com if the error persists. (include session ID in your message: {session_id}). "
    "We recommend you retry your request."
)


@dataclass(frozen=True)
class Say:
    """Speak `text` (an assistant message with audio and transcript, or text in text-only sessions)."""

    text: str


@dataclass(frozen=True)
class Call:
    """Call function `name` with `arguments` (a dict, or a JSON string sent as is)."""

    name: str
    arguments: str | Mapping[str, Any] = field(default_factory=dict)
    call_id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), ensure_ascii=False, separators=(",", ":"))


Output = Union[Say, Call]


@dataclass(frozen=True)
class Failure:
    """End the response with `status: "failed"` (after any outputs), like the real server_error."""

    code: str | None = None
    message: str | None = None
    """Defaults to the real server_error text with the session id filled in."""
    type: str = "server_error"


@dataclass
class ResponsePlan:
    """What one response does: `outputs` in order, then completes (or fails with `failure`).

    `delay_s` keeps the response active (after `response.created`) before its first output.
    """

    outputs: list[Output] = field(default_factory=list)
    failure: Failure | None = None
    delay_s: float = 0.0

    @classmethod
    def speak(cls, text: str, *, delay_s: float = 0.0) -> ResponsePlan:
        return cls([Say(text)], delay_s=delay_s)

    @classmethod
    def call(
        cls,
        name: str,
        arguments: str | Mapping[str, Any] | None = None,
        *,
        say_first: str | None = None,
        delay_s: float = 0.0,
    ) -> ResponsePlan:
        outputs: list[Output] = [Say(say_first)] if say_first else []
        outputs.append(Call(name, arguments if arguments is not None else {}))
        return cls(outputs, delay_s=delay_s)

    @classmethod
    def fail(
        cls,
        *,
        code: str | None = None,
        message: str | None = None,
        partial_text: str | None = None,
        delay_s: float = 0.0,
    ) -> ResponsePlan:
        outputs: list[Output] = [Say(partial_text)] if partial_text else []
        return cls(outputs, failure=Failure(code=code, message=message), delay_s=delay_s)

    @classmethod
    def wait(cls, seconds: float, then: ResponsePlan | None = None) -> ResponsePlan:
        plan = then or cls()
        return cls(list(plan.outputs), failure=plan.failure, delay_s=seconds + plan.delay_s)

    @property
    def spoken_text(self) -> str:
        return " ".join(o.text for o in self.outputs if isinstance(o, Say))

    @property
    def function_calls(self) -> list[Call]:
        return [o for o in self.outputs if isinstance(o, Call)]


@dataclass(frozen=True)
class ResponseRequest:
    """One response to produce: from the client's `response.create` or from server VAD."""

    trigger: Literal["client", "vad"]
    params: dict[str, Any]
    """The `response` object of `response.create` as sent (`{}` for VAD responses)."""
    event_id: str | None
    instructions: str
    """Effective instructions: the response's own, else the session's."""
    tool_choice: Any
    tools: list[dict[str, Any]]
    conversation: str
    input: list[dict[str, Any]] | None
    output_modalities: list[str]

    @property
    def response_instructions(self) -> str | None:
        """The instructions given in `response.create` itself (None when it relied on the session's)."""
        return self.params.get("instructions")

    @property
    def function_names(self) -> list[str]:
        return function_names(self.tools)

    def may_call(self, name: str) -> bool:
        """Whether the model may call `name` in this response (declared, and tool_choice allows it)."""
        if name not in self.function_names:
            return False
        choice = self.tool_choice
        if choice == "none":
            return False
        if isinstance(choice, dict):
            return choice.get("name") == name
        return True


@dataclass(frozen=True)
class SessionView:
    """Read-only snapshot of a realtime session for brains."""

    session: dict[str, Any]
    items: list[dict[str, Any]]
    transcripts: dict[str, str]
    """item_id -> what the person said in that audio item (known to the fake even before transcription)."""
    session_number: int = 1
    """Which realtime session (connection) this is: 1 for the first, 2 after a reconnect, ..."""

    def item_text(self, item: Mapping[str, Any]) -> str:
        """The words of a message item: its text parts, or audio transcripts (also those not yet transcribed)."""
        if item.get("type") == "function_call_output":
            return str(item.get("output", ""))
        parts: list[str] = []
        for part in item.get("content") or []:
            text = part.get("text") or part.get("transcript")
            if text:
                parts.append(text)
            elif part.get("type") == "input_audio" and item.get("id") in self.transcripts:
                parts.append(self.transcripts[item["id"]])
        if not parts and item.get("id") in self.transcripts:
            parts.append(self.transcripts[item["id"]])
        return " ".join(parts)

    def context(self, request: ResponseRequest) -> list[dict[str, Any]]:
        """The items the model sees for `request`: its `input` (references resolved) or the conversation."""
        if request.input is None:
            return list(self.items)
        by_id = {i.get("id"): i for i in self.items}
        out: list[dict[str, Any]] = []
        for item in request.input:
            if item.get("type") == "item_reference":
                if item.get("id") in by_id:
                    out.append(by_id[item["id"]])
            else:
                out.append(item)
        return out

    def function_call(self, call_id: str) -> dict[str, Any] | None:
        for item in self.items:
            if item.get("type") == "function_call" and item.get("call_id") == call_id:
                return item
        return None

    def last_user_text(self) -> str | None:
        for item in reversed(self.items):
            if item.get("type") == "message" and item.get("role") == "user":
                return self.item_text(item)
        return None


Brain = Callable[[SessionView, ResponseRequest], "ResponsePlan | Awaitable[ResponsePlan]"]

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_SAY_EXACTLY = re.compile(r"say(?:\s+exactly)?\s*:\s*[\"“](.+?)[\"”]", re.IGNORECASE | re.DOTALL)
RUN_FINISHED = "[RUN_FINISHED]"


def first_sentence(text: str) -> str:
    """The first sentence of `text`: up to the first `.`/`!`/`?` before a space, or the end of the first line."""
    text = text.strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    match = _SENTENCE_END.search(line)
    return line[: match.end()] if match else line


class NarratorBrain:
    """The default model behaviour for the narrator's tests.

    - After a person's turn (audio transcript or `input_text` user message): calls `ask_team` with
      `{"task": <their words>}` when the response may call it, otherwise answers in speech.
    - After a `function_call_output` item: a short acknowledgement (`ack_text` for ask_team).
    - When the latest system/user message starts with `[RUN_FINISHED]` (or the response's own instructions
      contain `[RUN_FINISHED] ...`): a summary that contains the first sentence of the text after the marker.
    - Response-level instructions containing `Say: "..."` (or `Say exactly: "..."`) are spoken verbatim.
    - Honours `tool_choice` ("none" never calls, a named function forces that call, "required" forces a call).

    Scripted overrides (thread-safe, consumed by the next responses in order):
    `queue_function_call`, `queue_say`, `queue_plan`, `fail_next`, `delay_next`.
    A queued function call waits for a response that may call it (declared tool, tool_choice allows it).
    """

    def __init__(
        self,
        *,
        team_tool: str = "ask_team",
        ack_text: str = "On it, the team is working.",
        summary_prefix: str = "The team has finished.",
        progress_text: str = "The team is still working on it.",
        no_words_text: str = "Sorry, I did not catch that.",
    ) -> None:
        self.team_tool = team_tool
        self.ack_text = ack_text
        self.summary_prefix = summary_prefix
        self.progress_text = progress_text
        self.no_words_text = no_words_text
        self._lock = threading.Lock()
        self._queue: deque[ResponsePlan] = deque()
        self._fail: deque[ResponsePlan] = deque()
        self._delay_next = 0.0

    # ---- scripted overrides -------------------------------------------------------------------------
    def queue_plan(self, plan: ResponsePlan) -> None:
        """Use `plan` for the next response (after any pending `fail_next`)."""
        with self._lock:
            self._queue.append(plan)

    def queue_function_call(
        self, name: str, arguments: Mapping[str, Any] | str | None = None, *, say_first: str | None = None
    ) -> None:
        """Make the model call `name` by itself at the next response that may call it."""
        self.queue_plan(ResponsePlan.call(name, arguments, say_first=say_first))

    def queue_say(self, text: str) -> None:
        """Make the model say `text` at the next response."""
        self.queue_plan(ResponsePlan.speak(text))

    def fail_next(
        self, n: int = 1, *, code: str | None = None, message: str | None = None, partial_text: str | None = None
    ) -> None:
        """Fail the next `n` responses with `status: "failed"` / server_error (optionally after some speech)."""
        with self._lock:
            for _ in range(n):
                self._fail.append(ResponsePlan.fail(code=code, message=message, partial_text=partial_text))

    def delay_next(self, seconds: float) -> None:
        """Keep the next response active for `seconds` before its first output."""
        with self._lock:
            self._delay_next = seconds

    @property
    def pending(self) -> int:
        """Scripted plans not used yet (queued plans and failures)."""
        with self._lock:
            return len(self._queue) + len(self._fail)

    # ---- the model ----------------------------------------------------------------------------------
    def __call__(self, view: SessionView, request: ResponseRequest) -> ResponsePlan:
        with self._lock:
            delay, self._delay_next = self._delay_next, 0.0
            plan = self._scripted(request)
        if plan is None:
            plan = self.decide(view, request)
        if delay:
            plan = ResponsePlan(list(plan.outputs), failure=plan.failure, delay_s=plan.delay_s + delay)
        return plan

    def _scripted(self, request: ResponseRequest) -> ResponsePlan | None:
        if self._fail:
            return self._fail.popleft()
        if not self._queue:
            return None
        plan = self._queue[0]
        if all(request.may_call(c.name) for c in plan.function_calls):
            return self._queue.popleft()
        return None

    def decide(self, view: SessionView, request: ResponseRequest) -> ResponsePlan:
        """The unscripted behaviour (see the class docstring)."""
        own = request.response_instructions or ""
        said = _SAY_EXACTLY.search(own)
        if said:
            return ResponsePlan.speak(said.group(1).strip())
        if RUN_FINISHED in own:
            return ResponsePlan.speak(self.summary(own.split(RUN_FINISHED, 1)[1]))
        items = view.context(request)
        forced = request.tool_choice
        for item in reversed(items):
            kind = item.get("type")
            role = item.get("role")
            if kind == "function_call_output":
                return ResponsePlan.speak(self._acknowledge(view, item))
            if kind != "message" or role == "assistant":
                continue
            text = view.item_text(item).strip()
            if text.startswith(RUN_FINISHED):
                return ResponsePlan.speak(self.summary(text[len(RUN_FINISHED) :]))
            if role == "user":
                return self._answer_person(text, request)
            if text.startswith("[TEAM"):
                if isinstance(forced, dict) or forced == "required":
                    break
                return ResponsePlan.speak(self.progress_text)
            break
        if isinstance(forced, dict) and forced.get("name"):
            return ResponsePlan.call(forced["name"], {})
        if forced == "required" and request.function_names:
            return ResponsePlan.call(request.function_names[0], {})
        return ResponsePlan.speak("Okay.")

    def summary(self, answer: str) -> str:
        """The spoken summary of a finished run: contains `first_sentence(answer)`."""
        sentence = first_sentence(answer)
        return f"{self.summary_prefix} {sentence}".strip() if sentence else self.summary_prefix

    def _acknowledge(self, view: SessionView, output_item: Mapping[str, Any]) -> str:
        call = view.function_call(str(output_item.get("call_id", "")))
        if call is None or call.get("name") == self.team_tool:
            return self.ack_text
        sentence = first_sentence(str(output_item.get("output", "")))
        return f"Okay. {sentence}".strip()

    def _answer_person(self, words: str, request: ResponseRequest) -> ResponsePlan:
        if not words:
            return ResponsePlan.speak(self.no_words_text)
        forced = request.tool_choice
        if isinstance(forced, dict) and forced.get("name"):
            name = forced["name"]
            return ResponsePlan.call(name, {"task": words} if name == self.team_tool else {})
        if request.may_call(self.team_tool):
            return ResponsePlan.call(self.team_tool, {"task": words})
        return ResponsePlan.speak(f"I heard you say: {words}")
