"""Rows the run store writes, derived from events: the event record itself, how an event changes its run's
row, and the one checkpoint per session a batch leaves (app/store/run_store.py commits them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, update

from agents.events import StateChanged
from agents.session.checkpoint import Checkpoint
from app.core.protocol import AnyServerEvent, RunFinishedEvent, RunStartedEvent, SystemEvent, parse_event
from app.store.schema import ACTIVE_STATUSES, LOCAL_OWNER, runs


@dataclass
class EventRecord:
    session_id: str
    seq: int
    run_id: str | None
    type: str
    created_at: str
    payload: str  # the envelope as sent, JSON, already scrubbed of secrets
    event: AnyServerEvent | None = None  # the same event as a model: the runs projection reads it, not the JSON
    owner: str = LOCAL_OWNER  # the session's owner, copied to the run's row
    on_stored: Callable[[], None] | None = None
    checkpoint: Checkpoint | None = None  # the session's state as of this event, stored in the same transaction
    session_stored: bool = False  # an earlier event of the session was committed, so its sessions row exists
    done: asyncio.Future[None] | None = field(default=None, repr=False)


UPDATE_STATUS = update(runs).where(runs.c.run_id == bindparam("rid")).values(status=bindparam("status"))
UPDATE_FINISH = (
    update(runs)
    .where(runs.c.run_id == bindparam("rid"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "stop_reason",
                "final_answer",
                "finished_at",
                "usage",
                "spent",
                "duration_s",
                "last_seq",
            )
        }
    )
)


def run_change(record: EventRecord) -> dict[str, Any] | RunStartedEvent | None:
    """How an event changes its run's row: the run_started event (a new row), a dict of new values, or None."""
    event = record.event if record.event is not None else parse_event(record.payload)
    if record.run_id is None:
        return None
    if isinstance(event, RunStartedEvent):
        return event
    if isinstance(event, RunFinishedEvent):
        data = event.data
        return {
            "status": data.stop_reason.value,
            "stop_reason": data.stop_reason.value,
            "final_answer": data.final_answer,
            "finished_at": record.created_at,
            "usage": data.usage.model_dump_json(),
            "spent": json.dumps(data.spent) if data.spent is not None else None,
            "duration_s": data.duration_s,
            "last_seq": record.seq,
        }
    if isinstance(event, SystemEvent) and isinstance(event.data, StateChanged) and event.data.state in ACTIVE_STATUSES:
        return {"status": event.data.state}
    return None


def latest_checkpoints(batch: list[EventRecord]) -> list[dict[str, Any]]:
    """One row per session: its last checkpoint in the batch, with the last memory the batch changed."""
    rows: dict[str, dict[str, Any]] = {}
    for record in batch:
        if record.checkpoint is None:
            continue
        memory = record.checkpoint.memory
        if memory is None and record.session_id in rows:
            memory = rows[record.session_id]["memory"]
        rows[record.session_id] = {
            "session_id": record.session_id,
            "owner": record.owner,
            "seq": record.seq,
            "run_id": record.run_id,
            "state": record.checkpoint.state,
            "memory": memory,
            "updated_at": record.created_at,
        }
    return list(rows.values())


def run_row(row: Any) -> dict[str, Any]:
    data = dict(row)
    for name in ("usage", "spent"):
        data[name] = json.loads(data[name]) if data.get(name) else None
    return data
