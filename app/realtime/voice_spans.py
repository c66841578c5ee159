"""Traces of a voice session: one `voice.session` span per voice front, one `voice.turn` child per turn.

    voice.session (backend, transport, session_id, minutes in/out, tokens, cost, turns)   its own trace
      └── voice.turn (backend, session_id, outcome, duration_s, latency_s, tokens, cost)  one per turn

A turn is the person speaking until the narrator responds:
- Realtime: from input_audio_buffer.speech_started (or a typed user message we send) to the response.done of
  the first response created after the turn was committed; `outcome` is `handed_to_team` when that response
  called ask_team, else `answered`. Tokens are that response's usage.
- GPT-Live: from the first input transcript delta of the person's turn to the delegation
  (`handed_to_team`) or the narrator's first speech (`answered`). GPT-Live reports no tokens.
`cost_usd` is what the session's cost rose by during the turn (null without a price). A turn span is made when
the turn ends, with its start time, so a turn that never completes leaves no open span behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from app.core.telemetry import tracer
from app.realtime.voice_usage import VoiceUsage, response_tokens

LIVE_SPEECH = ("session.output_transcript.delta", "session.output_audio.delta")


@dataclass
class _Turn:
    started_ns: int
    usd_before: float | None
    committed_ns: int | None = None
    response_id: str | None = None


class VoiceTurns:
    def __init__(self, usage: VoiceUsage) -> None:
        self._usage = usage
        self._span = tracer().start_span(
            "voice.session",
            context=otel_context.Context(),  # a trace of its own, like team.run
            attributes={"backend": usage.backend, "session_id": usage.session_id},
        )
        self._turn: _Turn | None = None
        self.turns = 0
        self._ended = False

    # ---- events -----------------------------------------------------------------------------------------
    def sent(self, event: dict[str, Any]) -> None:
        item = event.get("item") if event.get("type") == "conversation.item.create" else None
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role") == "user":
            self._begin(committed=True)  # typed text: a whole turn at once

    def received(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        if kind == "input_audio_buffer.speech_started":
            if self._turn is None or self._turn.committed_ns is None:
                self._begin(committed=False)
        elif kind == "input_audio_buffer.committed" and self._turn is not None:
            self._turn.committed_ns = self._turn.committed_ns or time.time_ns()
        elif kind == "response.created":
            turn, response = self._turn, event.get("response") or {}
            if turn is not None and turn.committed_ns is not None and turn.response_id is None:
                turn.response_id = str(response.get("id") or "")
        elif kind == "response.done":
            self._response_done(event.get("response") or {})
        elif kind == "session.input_transcript.delta":
            turn = self._turn or self._begin(committed=False)
            turn.committed_ns = time.time_ns()  # the person's latest words: latency counts from here
        elif kind == "session.delegation.created" and self._turn is not None:
            self._end("handed_to_team", None)
        elif kind in LIVE_SPEECH and self._turn is not None and self._turn.committed_ns is not None:
            self._end("answered", None)

    def _begin(self, *, committed: bool) -> _Turn:
        now = time.time_ns()
        self._turn = _Turn(now, self._usage.usd, committed_ns=now if committed else None)
        return self._turn

    def _response_done(self, response: dict[str, Any]) -> None:
        turn = self._turn
        if turn is None or not turn.response_id or response.get("id") != turn.response_id:
            return
        calls = [i for i in response.get("output") or [] if isinstance(i, dict) and i.get("type") == "function_call"]
        handed = any(call.get("name") == "ask_team" for call in calls)
        self._end("handed_to_team" if handed else "answered", response.get("usage"))

    def _end(self, outcome: str, usage: Any) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        now = time.time_ns()
        tokens = response_tokens(usage)
        attributes: dict[str, Any] = {
            "backend": self._usage.backend,
            "transport": self._usage.transport,
            "session_id": self._usage.session_id,
            "outcome": outcome,
            "turn.duration_s": (now - turn.started_ns) / 1e9,
            "input_tokens": tokens.input,
            "output_tokens": tokens.output,
            "audio_input_tokens": tokens.audio_in + tokens.cached_audio_in,
            "audio_output_tokens": tokens.audio_out,
        }
        if turn.committed_ns is not None:
            attributes["latency_s"] = max(0, now - turn.committed_ns) / 1e9
        usd = self._usage.usd
        if usd is not None and turn.usd_before is not None:
            attributes["cost_usd"] = usd - turn.usd_before
        self.turns += 1
        span = tracer().start_span(
            "voice.turn",
            context=trace.set_span_in_context(self._span),
            start_time=turn.started_ns,
            attributes=attributes,
        )
        span.end(end_time=now)

    def end(self) -> None:
        """The voice session closed: its span gets the totals and ends."""
        if self._ended:
            return
        self._ended = True
        usage = self._usage.snapshot()
        self._span.set_attributes(
            {
                "transport": usage["transport"],
                "minutes_in": usage["minutes_in"],
                "minutes_out": usage["minutes_out"],
                "input_tokens": usage["input_tokens"],
                "output_tokens": usage["output_tokens"],
                "turns": self.turns,
            }
        )
        if usage["billed_minutes"] is not None:
            self._span.set_attribute("billed_minutes", usage["billed_minutes"])
        if usage["usd"] is not None:
            self._span.set_attribute("cost_usd", usage["usd"])
        self._span.end()
