"""Realtime server event names the narrator reads (GA names, and the older ones some servers still send)."""

from __future__ import annotations

AUDIO_EVENTS = ("response.output_audio.delta", "response.audio.delta")
TRANSCRIPT_DELTAS = (
    "response.output_audio_transcript.delta",
    "response.audio_transcript.delta",
    "response.output_text.delta",
    "response.text.delta",
)
TRANSCRIPT_DONE = (
    "response.output_audio_transcript.done",
    "response.audio_transcript.done",
    "response.output_text.done",
    "response.text.done",
)
ITEM_EVENTS = ("conversation.item.created", "conversation.item.added", "conversation.item.done")
# Events we receive and deliberately do nothing with (they are still mirrored to the page's event log).
IGNORED_EVENTS = frozenset(
    {
        "rate_limits.updated",
        "session.created",
        "conversation.item.input_audio_transcription.failed",
        "response.output_item.added",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_audio.done",
        "response.audio.done",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.retrieved",
        "conversation.created",
        "conversation.item.input_audio_transcription.segment",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "transcription_session.updated",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)
