"""Responses on one Realtime connection: `response.create` / `response.cancel`, what the brain is shown of the
session, and starting and finishing a streamed response (stream.py).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import math
from typing import TYPE_CHECKING, Any

from tests.fakes.common.ids import new_id
from tests.fakes.realtime.brain import ResponsePlan, ResponseRequest, SessionView
from tests.fakes.realtime.items import ConversationItems
from tests.fakes.realtime.socket import ConnectionGone
from tests.fakes.realtime.stream import ResponseRecord, ResponseRun

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["Responses"]


class Responses(ConversationItems):
    """A connection's responses: one in the conversation at a time, any number out of band."""

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        params = copy.deepcopy(event.get("response") or {})
        if params.get("conversation", "auto") != "none" and self.active is not None:
            await self.error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. Wait until the "
                "response is finished before creating a new one.",
                client_event=event,
                kind="violation",
            )
            return
        await self.start_response("client", params, event.get("event_id"))

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        runs = [r for r in [self.active, *self.out_of_band] if r is not None and not r.cancelled]
        target = next((r for r in runs if wanted is None or r.id == wanted), None)
        if target is None or (wanted is None and target is not self.active):
            await self.error(
                "response_cancel_not_active", "Cancellation failed: no active response found.", client_event=event
            )
            return
        target.cancel("client_cancelled")

    def view(self) -> SessionView:
        return SessionView(
            session=copy.deepcopy(self.session),
            items=copy.deepcopy(self.items),
            transcripts=dict(self.transcripts),
            session_number=self.index,
        )

    def estimate_input_tokens(self, request: ResponseRequest) -> tuple[int, int]:
        """(text tokens, audio tokens) the model would read for `request` (about 4 characters per token)."""
        view = self.view()
        chars = len(request.instructions) + len(json.dumps(request.tools))
        audio_ms = 0.0
        for item in view.context(request):
            chars += len(view.item_text(item)) + len(str(item.get("arguments", "")))
            audio_ms += self.user_audio_ms.get(str(item.get("id")), 0.0) + self.output_audio_ms.get(
                str(item.get("id")), 0.0
            )
        return max(1, math.ceil(chars / 4)), math.ceil(audio_ms / 100)

    def _request(self, trigger: str, params: dict[str, Any], event_id: str | None) -> ResponseRequest:
        session = self.session
        return ResponseRequest(
            trigger=trigger,  # type: ignore[arg-type]
            params=params,
            event_id=event_id,
            instructions=params.get("instructions", session.get("instructions") or ""),
            tool_choice=params.get("tool_choice", session.get("tool_choice", "auto")),
            tools=list(params.get("tools", session.get("tools") or [])),
            conversation=params.get("conversation") or "auto",
            input=params.get("input"),
            output_modalities=list(params.get("output_modalities") or session.get("output_modalities") or ["audio"]),
        )

    async def start_response(self, trigger: str, params: dict[str, Any], event_id: str | None) -> ResponseRun:
        """Create a response (the caller checked that it may), ask the brain for its plan, and stream it."""
        request = self._request(trigger, params, event_id)
        record = ResponseRecord(
            id=new_id("resp"),
            session=self.index,
            trigger=trigger,
            request=params,
            instructions=request.instructions,
            tool_choice=request.tool_choice,
            plan=None,
        )
        run = ResponseRun(self, request, ResponsePlan(), record)
        if run.in_conversation:
            self.active = run
        else:
            self.out_of_band.add(run)
        self.hub._record_response(record)
        try:
            plan = self.hub.brain(self.view(), request)
            if inspect.isawaitable(plan):
                plan = await plan
            if not isinstance(plan, ResponsePlan):
                raise TypeError(f"brain returned {type(plan).__name__}, expected ResponsePlan")
        except Exception as exc:
            self.hub._record_internal_error(self.index, exc)
            plan = ResponsePlan.fail(message=f"FakeOpenAI brain error: {exc!r}")
        run.plan = plan
        record.plan = plan
        self.spawn(run.run())
        return run

    def response_finished(self, run: ResponseRun) -> None:
        if self.active is run:
            self.active = None
        self.out_of_band.discard(run)

    def note_stream_error(self, run: ResponseRun, exc: Exception) -> None:
        if not isinstance(exc, (ConnectionGone, asyncio.CancelledError)) and not self.closed:
            self.hub._record_internal_error(self.index, exc)
