"""A session's event log: numbers each event, stores it, then hands it to the session's connections.

publish() assigns the next seq at once (so seq order is call order), scrubs secrets from the JSON, and
returns when the store has committed it; the store's writer then delivers it to every subscriber, in order.
A subscriber whose inbox overflows (a client that stopped reading) is cut off; it reconnects with
?after=SEQ and gets the rest from the store, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from app.protocol import printable
from app.redaction import Redactor
from app.store import EventRecord, RunStore, now_iso


class Inbox:
    """A connection's outgoing queue of (seq, json text); seq None marks a reply to that connection only."""

    def __init__(self, limit: int) -> None:
        self._items: deque[tuple[int | None, str]] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def offer(self, seq: int | None, text: str) -> None:
        """Add a session event; on overflow the inbox is marked and the connection will be closed."""
        if self.closed:
            return
        if len(self._items) >= self._limit:
            self.overflowed = True
        else:
            self._items.append((seq, text))
        self._ready.set()

    def reply(self, text: str) -> None:
        """Add a reply for this connection only (never dropped; replies are rate limited upstream)."""
        if not self.closed:
            self._items.append((None, text))
            self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> tuple[int | None, str] | None:
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
    def __init__(self, session_id: str, store: RunStore, redactor: Redactor, *, last_seq: int = 0) -> None:
        self.session_id = session_id
        self._store = store
        self._redactor = redactor
        self._seq = last_seq
        self._subscribers: set[Inbox] = set()

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(self, *, type: str, source: str, data: dict[str, Any], run_id: str | None) -> asyncio.Future[None]:
        self._seq += 1
        seq = self._seq
        created = now_iso()
        envelope = {
            "source": source,
            "type": type,
            "seq": seq,
            "run_id": run_id,
            "session_id": self.session_id,
            "timestamp": created,
            "data": data,
        }
        text = self._to_text(envelope)
        record = EventRecord(
            self.session_id, seq, run_id, type, created, text, on_stored=lambda: self._deliver(seq, text)
        )
        return self._store.append(record)

    def envelope(self, *, type: str, data: dict[str, Any], run_id: str | None = None) -> str:
        """A connection-only reply (pong, status, input errors): not numbered, not stored."""
        reply = {
            "source": "system",
            "type": type,
            "seq": None,
            "run_id": run_id,
            "session_id": self.session_id,
            "timestamp": now_iso(),
            "data": data,
        }
        return self._to_text(reply)

    def _to_text(self, message: dict[str, Any]) -> str:
        """JSON text for the store and the socket: secrets masked, and lone surrogates (a JSON API's "\ud800",
        decoded) made U+FFFD, since UTF-8 cannot encode them and one would fail the store's commit."""
        return self._redactor.redact(printable(json.dumps(message, ensure_ascii=False, default=str)))

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

    def _deliver(self, seq: int, text: str) -> None:
        for inbox in tuple(self._subscribers):
            inbox.offer(seq, text)
