"""What the person's pending turn asks for, when GPT-Live delegates it: a task (or follow-up) for the team, or a
control request (status, pause, resume, cancel).

The rule: a control request is a short utterance (at most eight words) made of one of the
phrases below; everything else is a task. The rule costs no time and no tokens on the delegation → team path,
never turns a question into a cancel (a question that mentions "stop" is longer or is not one of the phrases),
and guards pause/cancel the way the Realtime backend does: they happen only on the person's own words, never on
the Live model's initiative (a delegation whose transcript is empty or a task starts nothing of the kind).
A longer turn with a control word during a run gets a second opinion from a small model (live_intent_model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

IntentKind = Literal["task", "status", "pause", "resume", "cancel", "none"]
MAX_CONTROL_WORDS = 8

_PHRASES: dict[IntentKind, tuple[str, ...]] = {
    "cancel": (
        r"(please )?(stop|cancel|abort|kill|drop|end|scrap) (that|this|it|the (run|task|research|search|work))",
        r"(please )?(stop|cancel|abort)( (now|everything|all))?",
        r"never ?mind",
        r"forget (it|that|about it)",
    ),
    "pause": (r"(please )?pause( (that|this|it|the (run|team|work)))?", r"hold (on|it)", r"wait a (moment|second|sec)"),
    "resume": (
        r"(please )?(resume|continue|carry on|go on|keep going)( (please|now))?",
        r"unpause( it)?",
    ),
    "status": (
        r"(what'?s|what is) (the )?(status|progress)",
        r"(what'?s|what is) (happening|going on)",
        r"(what are|what's) (they|the team) doing( now)?",
        r"how('?s| is) it going",
        r"(are|is) (you|they|the team|it) (done|finished|ready)( yet)?",
        r"status( update)?",
        r"any (news|progress|update)",
    ),
}
_LEAD = r"(?:(?:hey|ok|okay|so|um|uh|and|but|oh|please) )*"
_TAIL = r"(?: (?:please|now|thanks|thank you|right now))*"
_COMPILED = {kind: [re.compile(f"^{_LEAD}{p}{_TAIL}$") for p in ps] for kind, ps in _PHRASES.items()}
_FILLERS = frozenset("hmm hm um uh ah oh ok okay yes yeah no nope thanks thank you right sure fine great cool".split())


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    text: str


def normalize(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w' ]+", " ", text)
    return " ".join(text.split())


def classify(transcript: str) -> Intent:
    """The intent of one pending turn (the words since the narrator last spoke)."""
    text = " ".join(transcript.split())
    words = normalize(text)
    if not words or set(words.split()) <= _FILLERS:
        return Intent("none", text)
    if len(words.split()) <= MAX_CONTROL_WORDS:
        for kind, patterns in _COMPILED.items():
            if any(p.match(words) for p in patterns):
                return Intent(kind, text)
    return Intent("task", text)
