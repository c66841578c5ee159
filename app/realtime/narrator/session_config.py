"""The narrator's Realtime session (GA shape) and its tools."""

from __future__ import annotations

from typing import Any

INSTRUCTIONS = """You are the voice of a research team (a Manager, a Researcher and a Developer). You are a concise
narrator: the team does the research and the work; you talk with the person.

- When the person asks a question or gives a task, call ask_team with their request in their words (add nothing).
  Then say in one short sentence that the team is on it. Never answer research questions yourself.
- Messages starting with [TEAM <agent>] are the team's progress. Do not read them aloud; use them if the person
  asks what is happening (or call team_status).
- A message starting with [RUN_FINISHED] holds the team's final answer. Then speak a short summary of it:
  the key facts first, two or three sentences, natural speech, no URLs read out.
- Only call pause_team or cancel_team when the person explicitly asks to pause, stop or cancel. Never on your own.
  Call resume_team when the person asks to continue.
- If the person asks a follow-up, call ask_team again: the team keeps its memory.
- Never say you have no data while the team is working or has answered: wait for [RUN_FINISHED].
Speak in the person's language. Be brief."""

FINAL_INSTRUCTIONS = (
    "The team has finished; its final answer is the latest system message. Tell the person that answer in at "
    "most three short spoken sentences, key facts first. Do not read URLs. Do not call tools."
)
PROGRESS_INSTRUCTIONS = (
    "In one short sentence, tell the person what the team is doing right now, from the latest [TEAM] messages. "
    "Do not call tools."
)

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "ask_team",
        "description": "Hand the person's question or task (or a follow-up) to the research team. The team "
        "searches the web, reads pages, Wikipedia and arXiv, and runs code. Its answer arrives later as "
        "[RUN_FINISHED].",
        "parameters": {
            "type": "object",
            "properties": {"task": {"type": "string", "description": "The request, in the person's words."}},
            "required": ["task"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "team_status",
        "description": "What the team is doing now: state, current step, elapsed time.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
    {
        "type": "function",
        "name": "pause_team",
        "description": "Pause the team after its current step. Only when the person asks to pause.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
    {
        "type": "function",
        "name": "resume_team",
        "description": "Resume a paused team.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
    {
        "type": "function",
        "name": "cancel_team",
        "description": "Stop the team's current work. Only when the person asks to stop or cancel.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
]

TOOL_NAMES = frozenset(tool["name"] for tool in TOOLS)


def session_update(*, voice: str, transcription_model: str, instructions: str = INSTRUCTIONS) -> dict[str, Any]:
    """The session.update client event. Turn detection does not create responses by itself: every
    response.create goes through the narrator's queue, so two responses are never in flight."""
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": instructions,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "noise_reduction": {"type": "near_field"},
                    "transcription": {"model": transcription_model},
                    "turn_detection": {
                        "type": "semantic_vad",
                        "create_response": False,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": voice},
            },
            "tools": TOOLS,
            "tool_choice": "auto",
        },
    }
