"""One Realtime connection of the fake, whole: the input audio buffer, VAD turns and transcription on top of the
socket (socket.py), its conversation (items.py) and its responses (responses.py).

Runs entirely on the fake server's event loop. Test code reaches it through `RealtimeFake` (thread-safe).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import time
from typing import TYPE_CHECKING, Any

from tests.fakes.common.audio import bytes_to_ms
from tests.fakes.common.ids import new_id
from tests.fakes.realtime.responses import Responses
from tests.fakes.realtime.session_config import (
    input_format,
    transcription,
    turn_detection,
)

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["RealtimeConnection"]


class RealtimeConnection(Responses):
    """Server side of one `/v1/realtime` WebSocket (the input audio and user turns; the rest in its bases)."""

    async def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            pcm = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            await self.error(
                "invalid_value",
                "Invalid 'audio'. Expected base64-encoded audio data.",
                param="audio",
                client_event=event,
            )
            return
        await self.feed_input_audio(pcm)

    async def feed_input_audio(self, pcm: bytes) -> None:
        """The person's audio, from `input_audio_buffer.append` or a WebRTC call's microphone track."""
        self.hub._record_audio(len(pcm), self.index)
        self.input_buffer_bytes += len(pcm)
        self.input_audio_total_ms += bytes_to_ms(len(pcm))
        td = turn_detection(self.session)
        if self.vad is not None and td is not None and input_format(self.session).get("type") == "audio/pcm":
            for vad_event in self.vad.feed(pcm, int(td.get("silence_duration_ms") or 500)):
                if vad_event.kind == "start":
                    self._speech_item, self._speech_start_ms = new_id("item"), vad_event.ms
                    await self.begin_user_speech(self._speech_item, vad_event.ms)
                elif self._speech_item is not None:
                    item_id, self._speech_item = self._speech_item, None
                    words = self.pending_transcripts.popleft() if self.pending_transcripts else ""
                    await self.end_user_speech(
                        item_id, words, vad_event.ms, None, audio_ms=vad_event.ms - self._speech_start_ms
                    )

    async def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        buffered = bytes_to_ms(self.input_buffer_bytes)
        if buffered < 100:
            await self.error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered:.2f}ms of audio.",
                client_event=event,
            )
            return
        words = self.pending_transcripts.popleft() if self.pending_transcripts else ""
        await self._commit_user_audio(new_id("item"), words, buffered, transcribe=None, timing="before_response")

    async def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self.input_buffer_bytes = 0
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        await self.error(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            param="type",
            client_event=event,
        )

    def _audio_clock_ms(self) -> int:
        return int(max(self.input_audio_total_ms, (time.monotonic() - self.connected_at) * 1000))

    async def begin_user_speech(self, item_id: str, start_ms: int) -> None:
        """`input_audio_buffer.speech_started`, and barge-in: cancel the active response if configured."""
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": start_ms, "item_id": item_id})
        td = turn_detection(self.session) or {}
        if self.active is not None and td.get("interrupt_response", True):
            run = self.active
            run.cancel("turn_detected")
            await run.done.wait()

    async def end_user_speech(
        self,
        item_id: str,
        words: str,
        end_ms: int,
        transcribe: bool | None,
        timing: str = "before_response",
        audio_ms: float | None = None,
    ) -> None:
        """`speech_stopped`, commit, the user item, its transcription, then the automatic response."""
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item_id})
        await self._commit_user_audio(
            item_id,
            words,
            audio_ms if audio_ms is not None else 0.0,
            transcribe=transcribe,
            timing=timing,
            auto_response=True,
        )

    async def _commit_user_audio(
        self,
        item_id: str,
        words: str,
        audio_ms: float,
        *,
        transcribe: bool | None,
        timing: str,
        auto_response: bool = False,
    ) -> None:
        previous = self.items[-1]["id"] if self.items else None
        self.input_buffer_bytes = 0
        await self.send({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.transcripts[item_id] = words
        self.user_audio_ms[item_id] = audio_ms
        prev_id = self.add_item(item)
        await self.emit_item_added(item, prev_id)
        await self.emit_item_done(item)
        do_transcribe = transcription(self.session) is not None if transcribe is None else transcribe
        if do_transcribe and timing != "after_response":
            await self._transcribe(item, words)
        td = turn_detection(self.session)
        if auto_response and td is not None and td.get("create_response", True):
            if self.active is not None:
                await self.active.done.wait()
            if not self.closed:
                await self.start_response("vad", {}, None)
        if do_transcribe and timing == "after_response":
            await self._transcribe(item, words)

    async def _transcribe(self, item: dict[str, Any], words: str) -> None:
        item_id = item["id"]
        for i, word in enumerate(words.split()):
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": word if i == 0 else " " + word,
                }
            )
        item["content"][0]["transcript"] = words
        audio_tokens = max(1, math.ceil(self.user_audio_ms.get(item_id, 0.0) / 100))
        text_tokens = max(1, math.ceil(len(words) / 4))
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": words,
                "usage": {
                    "type": "tokens",
                    "input_tokens": audio_tokens,
                    "output_tokens": text_tokens,
                    "total_tokens": audio_tokens + text_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
                },
            }
        )

    async def user_turn(self, words: str, audio_ms: int, *, transcribe: bool | None, timing: str, pace: bool) -> None:
        """The person says `words` (`audio_ms` long): the full server-VAD sequence and automatic response.

        Without turn detection (VAD off) the words are kept for the client's next `input_audio_buffer.commit`.
        """
        if turn_detection(self.session) is None:
            self.pending_transcripts.append(words)
            return
        item_id = new_id("item")
        start = self._audio_clock_ms()
        await self.begin_user_speech(item_id, start)
        if pace:
            await asyncio.sleep(audio_ms / 1000)
        self.input_audio_total_ms = max(self.input_audio_total_ms, start + audio_ms)
        await self.end_user_speech(item_id, words, start + audio_ms, transcribe, timing, audio_ms)
