"""GPT-Live: the session.start event (client delegation) and the frontend instructions.

The Live model drives turns and speech; it delegates work with `session.delegation.created` and speaks what we
append as commentary. The session config is strict on OpenAI's side (unknown fields rejected), so it holds only
what the SDK's `openai.types.live.SessionConfig` defines.
"""

from __future__ import annotations

from typing import Any

LIVE_INSTRUCTIONS = """You are the voice of a research team (a Manager, a Researcher and a Developer). You talk with
the person; the team does the research and the work, through delegation.

- Delegate every question or task the person gives, every follow-up, and every request about the team's work
  (what is happening, pause, continue, stop, cancel). Never answer research questions yourself.
- While the team works, say at most one short sentence; silent progress notes arrive as thinking: use them only
  if the person asks what is happening.
- When commentary with the team's answer arrives, tell it to the person in at most three short spoken
  sentences, key facts first, no URLs. The full answer with its sources is on the person's screen.
- If the person interrupts you, stop and listen: the team keeps working unless they ask to stop it.
Speak in the person's language. Be brief."""


def session_start(
    *,
    model: str,
    voice: str,
    acknowledgement_delay_ms: int,
    context: str | None = None,
    instructions: str = LIVE_INSTRUCTIONS,
) -> dict[str, Any]:
    """The first client event of every Live WebSocket. `context` (a renewed session's summary of the
    conversation so far) goes in as text history the new session starts with."""
    session: dict[str, Any] = {
        "model": model,
        "instructions": instructions,
        "audio": {"format": {"type": "audio/pcm", "rate": 24000}, "output": {"voice": voice}},
        "delegation": {"type": "client", "acknowledgement_delay_ms": acknowledgement_delay_ms},
    }
    if context:
        session["input"] = [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": context[-6000:]}]}
        ]
    return {"type": "session.start", "session": session}


def thinking(content: str, delegation_id: str | None, event_id: str | None = None) -> dict[str, Any]:
    """Silent progress or context (no speech requested), at most 500 tokens."""
    event: dict[str, Any] = {"type": "session.thinking.append", "content": content, "delegation_id": delegation_id}
    if event_id:
        event["event_id"] = event_id
    return event


def commentary(content: str, delegation_id: str | None, event_id: str | None = None) -> dict[str, Any]:
    """Speakable context: what the Live model should tell the person, at most 500 tokens."""
    event: dict[str, Any] = {"type": "session.commentary.append", "content": content, "delegation_id": delegation_id}
    if event_id:
        event["event_id"] = event_id
    return event
