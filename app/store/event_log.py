"""A session's event log: numbers each event, stores it, then hands it to the session's connections.

publish() assigns the next seq at once (so seq order is call order), scrubs secrets from the JSON, and
returns when the store has committed it; the store's writer then delivers it to every subscriber, in order.
A subscriber whose inbox overflows (a client that stopped reading) is cut off; it reconnects with
?after=SEQ and gets the rest from the store, so nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import NamedTuple

from agents.events import SessionPayload
from agents.session.checkpoint import Checkpoint
from app.core.protocol import AnyServerEvent, ReplyPayload, parse_event, to_json, wrap
from app.core.redaction import Redactor
from app.store.rows import EventRecord
from app.store.run_store import RunStore, now_iso
from app.store.schema import LOCAL_OWNER


class Delivery(NamedTuple):
    """One item of a connection's outgoing queue: seq None marks a reply to that connection only."""

    seq: int | None
    text: str
    event: AnyServerEvent | None = None


class Inbox:
    """A connection's outgoing queue, bounded: a client that stops reading overflows it and is cut off."""

    def __init__(self, limit: int) -> None:
        self._items: deque[Delivery] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def offer(self, seq: int | None, text: str, event: AnyServerEvent | None = None) -> None:
        """Add a session event; on overflow the inbox is marked and the connection will be closed."""
        if self.closed:
            return
        if len(self._items) >= self._limit:
            self.overflowed = True
        else:
            self._items.append(Delivery(seq, text, event))
        self._ready.set()

    def reply(self, text: str) -> None:
        """Add a reply for this connection only. Replies count against the same limit: a client that sends
        bad frames and never reads overflows it and is cut off like a slow reader."""
        if self.closed:
            return
        if len(self._items) >= self._limit:
            self.overflowed = True
        else:
            self._items.append(Delivery(None, text))
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self) -> Delivery | None:
        """Next item, or None when the inbox is closed or has overflowed."""
        while not self._items:
            if self.closed or self.overflowed:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self.overflowed:
            return None
        return self._items.popleft()


class SessionEventLog:
    def __init__(
        self, session_id: str, store: RunStore, redactor: Redactor, *, last_seq: int = 0, owner: str = LOCAL_OWNER
    ) -> None:
        self.session_id = session_id
        self.owner = owner
        self._store = store
        self._redactor = redactor
        self._seq = last_seq
        self._subscribers: set[Inbox] = set()
        self._session_stored = False  # one of its events was committed (so was the session's row, with it)

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(
        self, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None
    ) -> asyncio.Future[None]:
        """Number, serialize (once), store (with the session's checkpoint, if any, in the same transaction);
        the future resolves when the event is committed and delivered."""
        self._seq += 1
        seq = self._seq
        created = now_iso()
        event, text = self._serialize(
            wrap(payload, seq=seq, run_id=run_id, session_id=self.session_id, timestamp=created)
        )
        record = EventRecord(
            self.session_id,
            seq,
            run_id,
            event.type,
            created,
            text,
            event=event,
            owner=self.owner,
            on_stored=lambda: self._deliver(seq, text, event),
            checkpoint=self._scrub(checkpoint) if checkpoint is not None else None,
            session_stored=self._session_stored,
        )
        return self._store.append(record)

    def _scrub(self, checkpoint: Checkpoint) -> Checkpoint:
        memory = self._redactor.redact(checkpoint.memory) if checkpoint.memory is not None else None
        return Checkpoint(self._redactor.redact(checkpoint.state), memory)

    def reply(self, payload: ReplyPayload, run_id: str | None = None) -> str:
        """A connection-only reply (connected, pong, status, input errors): not numbered, not stored."""
        event = wrap(payload, seq=None, run_id=run_id, session_id=self.session_id, timestamp=now_iso())
        return self._serialize(event)[1]

    def _serialize(self, event: AnyServerEvent) -> tuple[AnyServerEvent, str]:
        """The event and its JSON text for the store and the socket: secrets masked, lone surrogates made
        U+FFFD. In the rare case either changed the text, the model is read back from it, so the model the
        store and the narrator see is exactly what clients receive."""
        text, clean = to_json(event)
        redacted = self._redactor.redact(text)
        if not clean or (redacted is not text and redacted != text):
            return parse_event(redacted), redacted
        return event, text

    def subscribe(self, inbox: Inbox) -> None:
        self._subscribers.add(inbox)

    def unsubscribe(self, inbox: Inbox) -> None:
        self._subscribers.discard(inbox)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def stored_after(self, after_seq: int, page: int = 500) -> AsyncIterator[tuple[int, str]]:
        """Stored events with seq > after_seq, paged, for a reconnecting client."""
        while True:
            rows = await self._store.events_after(self.session_id, after_seq, limit=page)
            for seq, text in rows:
                yield seq, text
                after_seq = seq
            if len(rows) < page:
                return

    def _deliver(self, seq: int, text: str, event: AnyServerEvent) -> None:
        self._session_stored = True
        for inbox in tuple(self._subscribers):
            inbox.offer(seq, text, event)
