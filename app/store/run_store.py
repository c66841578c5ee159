"""The run store: every session event, and one row per run derived from them.

SQLite file by default, PostgreSQL when DATABASE_URL says so (SQLAlchemy Core, async drivers aiosqlite and
asyncpg). Writes go through one writer task that commits in batches (group commit): an event's `append()`
returns once its batch is committed, so "stored before sent" costs one commit per batch, not per event.
The `on_stored` callbacks run in commit order, which is how events reach clients in seq order. On a SQLite
file a batch's transaction runs whole on a writer connection of its own thread (app/store/batch_write.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from agents.session.checkpoint import Checkpoint
from app.store.batch_write import BatchStatements, SqliteWriter, write_async
from app.store.rows import EventRecord, run_row
from app.store.schema import ACTIVE_STATUSES, checkpoints, create_and_migrate, events, runs, sessions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OwnerSpending:
    runs_in_flight: int
    spent_usd: float  # finished runs since the day began (runs whose cost is unknown count nothing)
    in_flight_usd: float  # the USD budgets of the runs in flight: what they may still spend at most


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def normalize_database_url(url: str) -> str:
    """Accept plain sqlite:// and postgres:// URLs and pick the async driver."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    return url


POOL_SIZE, POOL_OVERFLOW = 20, 20  # PostgreSQL connections per process: kept, and beyond them in a burst
SCHEMA_LOCK_KEY = 0x7265_7365_6172  # any constant shared by every process of this app ("resear")


class StoreError(Exception):
    """An event could not be stored (the database failed, or the record was refused)."""


class RunStore:
    def __init__(self, database_url: str, *, batch_size: int = 512, max_backlog: int = 100_000) -> None:
        self.url = normalize_database_url(database_url)
        self._dialect = make_url(self.url).get_backend_name()
        self._batch_size = batch_size
        self._engine: AsyncEngine | None = None
        self._queue: asyncio.Queue[EventRecord | None] = asyncio.Queue()
        self._max_backlog = max_backlog  # events waiting for the writer; past it an event is refused, not queued
        self._writer: asyncio.Task[None] | None = None
        self._statements: BatchStatements | None = None
        self._sqlite: SqliteWriter | None = None  # a SQLite file's writer connection (app/store/batch_write.py)
        self.commits = 0  # batches committed (benchmarks report events per commit)

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "RunStore.start() was not called"
        return self._engine

    @property
    def dialect(self) -> str:
        return self._dialect

    async def start(self) -> None:
        url = make_url(self.url)
        kwargs: dict[str, Any] = {}
        file = False
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database in ("", ":memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                file = True
        if url.get_backend_name() == "postgresql":
            # Connections are kept, not churned: a burst beyond the pool would otherwise open (and authenticate)
            # a new connection per query and close it after, which costs more than the query.
            kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=30)
        self._engine = create_async_engine(self.url, **kwargs)
        if url.get_backend_name() == "sqlite":
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        async with self._engine.begin() as conn:
            if url.get_backend_name() == "postgresql":
                # Servers and workers starting together on an empty database would race in create_all
                # (one dies on a UniqueViolation): a transaction-scoped advisory lock lets one create at a time.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            await conn.run_sync(create_and_migrate)
        self._statements = BatchStatements(self.dialect)
        if file:
            self._sqlite = SqliteWriter(url, on_connect=_sqlite_pragmas)
        self._writer = asyncio.create_task(self._write_loop(), name="run-store-writer")

    async def stop(self) -> None:
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self._sqlite is not None:
            await self._sqlite.close()
            self._sqlite = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    # ---- writing ----------------------------------------------------------------------------------------
    def append(self, record: EventRecord) -> asyncio.Future[None]:
        """Queue an event; the future resolves when it is committed (after its on_stored callback ran)."""
        record.done = asyncio.get_running_loop().create_future()
        if self._queue.qsize() >= self._max_backlog:  # the database fell far behind: refuse rather than grow
            record.done.set_exception(StoreError(f"The run store is {self._max_backlog} events behind."))
        else:
            self._queue.put_nowait(record)
        return record.done

    @property
    def pending(self) -> int:
        """Events queued for the writer (metrics)."""
        return self._queue.qsize()

    async def _write_loop(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop_after = False
            while len(batch) < self._batch_size and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop_after = True
                    break
                batch.append(item)
            await self._commit(batch)
            if stop_after:
                return

    async def _commit(self, batch: list[EventRecord]) -> None:
        """Commit a batch in one transaction; if it fails, retry its records one by one so a single bad record
        (or one session's conflict) fails only its own emitter, and the other sessions' events land."""
        try:
            await self._write(batch)
        except Exception as exc:  # noqa: BLE001 - isolated below, then reported to the waiting emitters
            if len(batch) == 1:
                log.error("run store commit failed", extra={"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
                self._settle(batch[0], exc)
                return
            log.warning("run store batch failed; retrying its %d records one by one", len(batch))
            for record in batch:
                await self._commit([record])
            return
        for record in batch:
            self._settle(record, None)

    def _settle(self, record: EventRecord, error: BaseException | None) -> None:
        if error is None and record.on_stored is not None:
            try:
                record.on_stored()
            except Exception:
                log.exception("on_stored callback failed")
        if record.done is not None and not record.done.done():
            if error is None:
                record.done.set_result(None)
            else:
                record.done.set_exception(StoreError(f"The event could not be stored: {type(error).__name__}"))

    async def _write(self, batch: list[EventRecord]) -> None:
        """One transaction, at most six statements whatever the batch size (app/store/batch_write.py)."""
        assert self._statements is not None, "RunStore.start() was not called"
        statements = self._statements.of(batch)
        if self._sqlite is not None:
            await self._sqlite.write(statements)
        else:
            await write_async(self.engine, statements)
        self.commits += 1

    # ---- reading ----------------------------------------------------------------------------------------
    async def max_seq(self, session_id: str) -> int:
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(func.max(events.c.seq)).where(events.c.session_id == session_id))
        return int(value or 0)

    async def events_after(self, session_id: str, after_seq: int, limit: int = 1000) -> list[tuple[int, str]]:
        """(seq, payload) of the session's events with seq > after_seq, in order."""
        query = (
            select(events.c.seq, events.c.payload)
            .where(events.c.session_id == session_id, events.c.seq > after_seq)
            .order_by(events.c.seq)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(int(seq), payload) for seq, payload in rows]

    async def list_runs(
        self,
        *,
        owner: str,
        limit: int = 50,
        offset: int = 0,
        session_id: str | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        query = (
            select(runs)
            .where(runs.c.owner == owner)
            .order_by(runs.c.created_at.desc(), runs.c.run_id)
            .limit(limit)
            .offset(offset)
        )
        if session_id:
            query = query.where(runs.c.session_id == session_id)
        if status:
            query = query.where(runs.c.status == status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [run_row(row) for row in rows]

    async def get_run(self, run_id: str, *, owner: str | None) -> dict[str, Any] | None:
        """The run, or None when it does not exist or belongs to someone else (owner None: anyone's)."""
        query = select(runs).where(runs.c.run_id == run_id)
        if owner is not None:
            query = query.where(runs.c.owner == owner)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return run_row(row) if row else None

    # ---- sessions -----------------------------------------------------------------------------------------
    async def session_owner(self, session_id: str) -> str | None:
        async with self.engine.connect() as conn:
            owner = await conn.scalar(select(sessions.c.owner).where(sessions.c.session_id == session_id))
        return str(owner) if owner is not None else None

    async def record_session(self, session_id: str, owner: str) -> None:
        """Record a new session's owner at once (gateways do, so any gateway can check it before an event)."""
        async with self.engine.begin() as conn:
            assert self._statements is not None, "RunStore.start() was not called"
            await conn.execute(
                self._statements.insert_sessions,
                [{"session_id": session_id, "owner": owner, "created_at": now_iso()}],
            )

    async def load_checkpoint(self, session_id: str) -> tuple[int, Checkpoint] | None:
        """(seq covered, checkpoint) of the session's last checkpoint, or None."""
        query = select(checkpoints.c.seq, checkpoints.c.state, checkpoints.c.memory).where(
            checkpoints.c.session_id == session_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (int(row[0]), Checkpoint(str(row[1]), row[2])) if row else None

    async def run_events(self, run_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        query = (
            select(events.c.payload)
            .where(events.c.run_id == run_id, events.c.seq > after_seq)
            .order_by(events.c.seq)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).scalars().all()
        return [json.loads(payload) for payload in rows]

    async def owner_spending(self, owner: str, since: str) -> OwnerSpending:
        """What `owner` has in flight now, and has spent on runs created since `since` (ISO time)."""
        query = select(runs.c.run_id, runs.c.status, runs.c.spent).where(
            runs.c.owner == owner, or_(runs.c.status.in_(ACTIVE_STATUSES), runs.c.created_at >= since)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            active = [str(row.run_id) for row in rows if row.status in ACTIVE_STATUSES]
            started = select(events.c.payload).where(events.c.run_id.in_(active), events.c.type == "run_started")
            budgets = (await conn.execute(started)).scalars().all() if active else []
        spent = sum(float((json.loads(row.spent) or {}).get("usd") or 0) for row in rows if row.spent)
        in_flight = sum(float((json.loads(p).get("data") or {}).get("budget", {}).get("max_usd") or 0) for p in budgets)
        return OwnerSpending(runs_in_flight=len(active), spent_usd=spent, in_flight_usd=in_flight)

    async def active_runs(self) -> list[dict[str, Any]]:
        """Runs left running or paused (by a server that stopped without finishing them)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(runs).where(runs.c.status.in_(ACTIVE_STATUSES)))).mappings().all()
        return [run_row(row) for row in rows]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
