"""The second opinion for a GPT-Live delegation: when the rule (live_intent.classify) sees a task, but a run is
active and the person's words contain a control word ("Could you please stop what the team is doing?"), a small
model decides with structured output whether it is a control request or a follow-up. Plain questions never pay
for the call, and a pause or cancel still needs a control word in the person's own words. On any failure of the
call the rule's answer stands (a follow-up is queued, nothing is stopped)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from agents.models.openai_models import default_effort
from app.realtime.live.intent import Intent, IntentKind, classify

log = logging.getLogger(__name__)

CONTROL_WORDS = re.compile(
    r"\b(stop|cancel|abort|halt|quit|enough|pause|hold|wait|resume|continue|carry on|go on|status|progress|"
    r"happening|doing)\b",
    re.IGNORECASE,
)
KINDS: tuple[IntentKind, ...] = ("task", "status", "pause", "resume", "cancel")
SYSTEM = (
    "You sort what a person said to the voice of a research team that is working on a task right now. Answer "
    "'cancel' if they want the team's current work stopped or dropped, 'pause' to pause it, 'resume' to "
    "continue paused work, 'status' if they ask what the team is doing or how far it is, and 'task' if it is a "
    "new question or a follow-up for the team."
)
SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "intent",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"kind": {"type": "string", "enum": list(KINDS)}},
            "required": ["kind"],
            "additionalProperties": False,
        },
    },
}


class IntentClassifier:
    def __init__(self, openai_client: Any | None, model: str, timeout_s: float = 3.0) -> None:
        self._client = openai_client
        self._model = model
        self._timeout_s = timeout_s
        self.model_calls = 0
        effort = default_effort(model)  # a GPT-6 model answers fastest at "none": this is a 3-second decision
        self._effort: dict[str, Any] = {"reasoning_effort": effort} if effort else {}

    async def classify(self, transcript: str, *, run_active: bool) -> Intent:
        intent = classify(transcript)
        if intent.kind != "task" or not run_active or self._client is None or not CONTROL_WORDS.search(intent.text):
            return intent
        self.model_calls += 1
        try:
            completion = await self._client.chat.completions.create(
                model=self._model,
                messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": intent.text[:1000]}],
                response_format=SCHEMA,
                timeout=self._timeout_s,
                **self._effort,
            )
            kind = json.loads(completion.choices[0].message.content or "{}").get("kind")
        except Exception as exc:  # noqa: BLE001 - the rule's answer stands
            log.warning("intent model call failed (%s); treating the words as a task", type(exc).__name__)
            return intent
        return Intent(kind, intent.text) if kind in KINDS else intent
