"""Where a TeamSession's events go (the app numbers, stores, then sends them: app/store/event_log.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from agents.events import SessionPayload
from agents.session.checkpoint import Checkpoint


class EventSink(Protocol):
    """Where the session's events go: the app numbers, stores, then sends them (app/store/event_log.py). A
    checkpoint is stored in the same transaction as its event."""

    def __call__(
        self, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None
    ) -> Awaitable[None]: ...
