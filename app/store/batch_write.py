"""How the run store commits a batch of events: the statements (at most six, whatever the batch's size), and, on
a SQLite file, the connection of its own they run on.

Every statement on aiosqlite is several round trips between the event loop and aiosqlite's thread (cursor,
execute, close; the pool's checkout and its rollback on return), each waiting for a busy loop's next turn: about
1 ms of CPU and a dozen loop turns per commit, most of the store's cost under load. So on a SQLite file the
writer has one connection on a thread of its own (`SqliteWriter`), and a batch's transaction is one hand-off
to it and one back. PostgreSQL (asyncpg) and in-memory SQLite, which only the async engine's one connection
can see, commit on the async engine (`write_async`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Executable, Insert, create_engine, event, func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from app.core.protocol import RunStartedEvent
from app.store.rows import UPDATE_FINISH, UPDATE_STATUS, EventRecord, latest_checkpoints, run_change
from app.store.schema import checkpoints, events, runs, sessions

Statements = list[tuple[Executable, Sequence[dict[str, Any]]]]


class BatchStatements:
    """The statements of a commit, built once per store for its dialect (a statement built anew for every
    commit costs SQLAlchemy a new cache key each time)."""

    def __init__(self, dialect: str) -> None:
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        self.insert_sessions: Insert = insert(sessions).on_conflict_do_nothing()  # existing rows left alone
        newer = insert(checkpoints).excluded
        self.upsert_checkpoint: Insert = insert(checkpoints).on_conflict_do_update(  # never with an older one
            index_elements=[checkpoints.c.session_id],
            set_={
                "seq": newer.seq,
                "run_id": newer.run_id,
                "state": newer.state,
                "memory": func.coalesce(newer.memory, checkpoints.c.memory),  # None: unchanged
                "updated_at": newer.updated_at,
            },
            where=checkpoints.c.seq < newer.seq,
        )

    def of(self, batch: list[EventRecord]) -> Statements:
        """The batch's statements, in the order they must run."""
        new_runs: list[dict[str, Any]] = []
        state_changes: list[dict[str, Any]] = []
        finishes: list[dict[str, Any]] = []
        for record in batch:
            change = run_change(record)
            if isinstance(change, RunStartedEvent):
                new_runs.append(
                    {
                        "run_id": record.run_id,
                        "session_id": record.session_id,
                        "task": change.data.task,
                        "status": "running",
                        "created_at": record.created_at,
                        "first_seq": record.seq,
                        "owner": record.owner,
                    }
                )
            elif isinstance(change, dict):
                (finishes if "last_seq" in change else state_changes).append({"rid": record.run_id, **change})
        statements: Statements = []
        # A session is recorded with its owner by its first stored event, in the same commit: no write of its own
        # when it connects (a session that never stored anything holds nothing worth owning). Once an event of it
        # is stored, so is its row: its later events skip the insert (it would change nothing).
        owners = {r.session_id: r.owner for r in batch if not r.session_stored}
        if owners:
            created = batch[0].created_at
            rows = [{"session_id": sid, "owner": owner, "created_at": created} for sid, owner in owners.items()]
            statements.append((self.insert_sessions, rows))
        statements.append(
            (
                events.insert(),
                [
                    {
                        "session_id": r.session_id,
                        "seq": r.seq,
                        "run_id": r.run_id,
                        "type": r.type,
                        "created_at": r.created_at,
                        "payload": r.payload,
                    }
                    for r in batch
                ],
            )
        )
        if new_runs:
            statements.append((runs.insert(), new_runs))
        if state_changes:  # before finishes: a run's finish is always its last change
            statements.append((UPDATE_STATUS, state_changes))
        if finishes:
            statements.append((UPDATE_FINISH, finishes))
        latest = latest_checkpoints(batch)
        if latest:
            statements.append((self.upsert_checkpoint, latest))
        return statements


async def write_async(engine: AsyncEngine, statements: Statements) -> None:
    """One transaction on the async engine."""
    async with engine.begin() as conn:
        for statement, rows in statements:
            await conn.execute(statement, rows)


class SqliteWriter:
    """One connection to a SQLite file, used by one thread of its own: a batch's transaction runs there whole.
    Readers keep the async engine; WAL lets them read while this writes."""

    def __init__(self, url: URL, *, on_connect: Callable[[Any, Any], None]) -> None:
        self._engine = create_engine(url.set(drivername="sqlite+pysqlite"), poolclass=NullPool)
        event.listen(self._engine, "connect", on_connect)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-store-sqlite")
        self._conn: Connection | None = None

    async def write(self, statements: Statements) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._write, statements)

    def _write(self, statements: Statements) -> None:
        if self._conn is None:
            self._conn = self._engine.connect()
        try:
            with self._conn.begin():
                for statement, rows in statements:
                    self._conn.execute(statement, rows)
        except Exception:
            self._close()  # the next batch starts on a fresh connection, whatever state this one is in
            raise

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection that fails to close is gone all the same
                pass

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)
        self._engine.dispose()
