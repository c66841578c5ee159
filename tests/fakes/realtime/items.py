"""The conversation of one Realtime connection: `conversation.item.*` client events, and the items the fake adds
itself (added/done events, output audio lengths for truncation).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests.fakes.common.ids import new_id
from tests.fakes.realtime.socket import RealtimeSocket

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["ConversationItems"]


class ConversationItems(RealtimeSocket):
    """A connection's conversation items."""

    def _find(self, item_id: str) -> dict[str, Any] | None:
        return next((i for i in self.items if i.get("id") == item_id), None)

    async def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = copy.deepcopy(event["item"])
        previous = event.get("previous_item_id")
        if item.get("type") == "function_call_output":
            call_id = item.get("call_id")
            if not any(i.get("type") == "function_call" and i.get("call_id") == call_id for i in self.items):
                await self.error(
                    "invalid_tool_call_id", f"Tool call ID '{call_id}' not found in conversation.", client_event=event
                )
                return
        if item.get("id") and self._find(item["id"]) is not None:
            await self.error(
                "invalid_value", f"Item with id '{item['id']}' already exists.", param="item.id", client_event=event
            )
            return
        if previous not in (None, "root") and self._find(previous) is None:
            await self.error(
                "invalid_value",
                f"Previous item with id '{previous}' not found.",
                param="previous_item_id",
                client_event=event,
            )
            return
        item.setdefault("id", new_id("item"))
        item["object"] = "realtime.item"
        item.setdefault("status", "completed")
        prev_id = self.add_item(item, previous)
        await self.emit_item_added(item, prev_id)
        await self.emit_item_done(item)

    async def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item = self._find(event["item_id"])
        if item is None:
            await self.error(
                "invalid_value",
                f"Item with item_id '{event['item_id']}' not found.",
                param="item_id",
                client_event=event,
            )
            return
        self.items.remove(item)
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self._find(event["item_id"])
        if item is None:
            await self.error(
                "invalid_value",
                f"Item with item_id '{event['item_id']}' not found.",
                param="item_id",
                client_event=event,
            )
            return
        await self.send({"type": "conversation.item.retrieved", "item": copy.deepcopy(item)})

    async def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, content_index, end_ms = event["item_id"], event["content_index"], event["audio_end_ms"]
        item = self._find(item_id)
        if item is None:
            await self.error(
                "invalid_value", f"Item with item_id '{item_id}' not found.", param="item_id", client_event=event
            )
            return
        if item.get("role") != "assistant" or item_id not in self.output_audio_ms:
            await self.error(
                "invalid_value",
                "Only model output audio messages can be truncated.",
                param="item_id",
                client_event=event,
            )
            return
        if content_index != 0:
            await self.error(
                "invalid_value",
                f"Invalid value: {content_index}. Content index out of range.",
                param="content_index",
                client_event=event,
            )
            return
        duration = int(self.output_audio_ms[item_id])
        if end_ms > duration:
            # Real: the refusal (with error.event_id null) and the truncation applied at the audio's end anyway.
            await self.error(
                "invalid_value",
                f"Audio content of {duration}ms is already shorter than {end_ms}ms",
                param="audio_end_ms",
                client_event=event,
                echo_event_id=False,
            )
            end_ms = duration
        self.hub._record_truncation(self.index, item_id, content_index, end_ms)
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": end_ms,
            }
        )

    def add_item(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Insert `item` (after `previous_item_id`, at the start for "root", else at the end); returns the id
        of the item before it."""
        if previous_item_id == "root":
            self.items.insert(0, item)
            return None
        if previous_item_id is not None:
            prev = self._find(previous_item_id)
            if prev is not None:
                self.items.insert(self.items.index(prev) + 1, item)
                return previous_item_id
        before = self.items[-1]["id"] if self.items else None
        self.items.append(item)
        return before

    async def emit_item_added(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        legacy = self.options.legacy_item_events
        if legacy != "only":
            await self.send(
                {"type": "conversation.item.added", "previous_item_id": previous_item_id, "item": copy.deepcopy(item)}
            )
        if legacy:
            await self.send(
                {"type": "conversation.item.created", "previous_item_id": previous_item_id, "item": copy.deepcopy(item)}
            )

    async def emit_item_done(self, item: dict[str, Any]) -> None:
        if self.options.legacy_item_events != "only":
            previous = None
            for i, candidate in enumerate(self.items):
                if candidate is item and i > 0:
                    previous = self.items[i - 1]["id"]
            await self.send(
                {"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)}
            )

    def add_output_audio(self, item_id: str, ms: float) -> None:
        self.output_audio_ms[item_id] = self.output_audio_ms.get(item_id, 0.0) + ms
