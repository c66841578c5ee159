"""The run store's cheaper commits (bench/README.md, 2026-12-08): a SQLite file's batches commit on a writer
connection of their own thread, in-memory SQLite and PostgreSQL on the async engine, and a session's row is
inserted with its first stored event only."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from agents.events import RunStarted, StateChanged, TeamMessage
from agents.session.run_state import SessionState
from app.core.protocol import to_json, wrap
from app.core.redaction import Redactor
from app.sessions.registry import SessionRegistry
from app.store.batch_write import BatchStatements
from app.store.event_log import SessionEventLog
from app.store.rows import EventRecord
from app.store.run_store import RunStore, StoreError, now_iso
from app.store.schema import events, sessions


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("run-store-sqlite")]


async def test_a_sqlite_file_commits_on_its_writer_thread_and_reads_see_it(tmp_path: Path) -> None:
    store = RunStore(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    await store.start()
    try:
        log = SessionEventLog("s_writer_thread", store, Redactor(), owner="alice")
        await log.publish(RunStarted(task="q", followup=False, session_id="s_writer_thread"), "run_w")
        await asyncio.gather(*(log.publish(TeamMessage(type="TextMessage", data={"n": n}), "run_w") for n in range(50)))
        await log.publish(StateChanged(state="paused"), "run_w")
        assert writer_threads()  # the batches went to the writer's own thread
        assert [seq for seq, _ in await store.events_after("s_writer_thread", 0)] == list(range(1, 53))
        run = await store.get_run("run_w", owner="alice")
        assert run is not None and run["status"] == "paused"
        assert await store.session_owner("s_writer_thread") == "alice"
    finally:
        await store.stop()
    assert not writer_threads()  # stop() ends it


async def test_in_memory_sqlite_commits_on_the_async_engine(tmp_path: Path) -> None:
    """Only the async engine's one connection sees an in-memory database: no writer thread there."""
    store = RunStore("sqlite+aiosqlite:///:memory:")
    await store.start()
    try:
        log = SessionEventLog("s_in_memory_db", store, Redactor())
        for n in range(3):
            await log.publish(TeamMessage(type="TextMessage", data={"n": n}), None)
        assert [seq for seq, _ in await store.events_after("s_in_memory_db", 0)] == [1, 2, 3]
        assert await store.session_owner("s_in_memory_db") == "local"
        assert store._sqlite is None
    finally:
        await store.stop()


def record(session_id: str, seq: int, *, stored: bool) -> EventRecord:
    created = now_iso()
    event = wrap(
        TeamMessage(type="TextMessage", data={}), seq=seq, run_id=None, session_id=session_id, timestamp=created
    )
    text, _ = to_json(event)
    return EventRecord(session_id, seq, None, "TextMessage", created, text, event=event, session_stored=stored)


def test_a_batch_inserts_the_rows_of_sessions_not_stored_yet() -> None:
    statements = BatchStatements("sqlite")
    batch = [record("s_a", 1, stored=False), record("s_b", 7, stored=True), record("s_a", 2, stored=False)]
    first = statements.of(batch)
    assert first[0][0] is statements.insert_sessions
    assert [row["session_id"] for row in first[0][1]] == ["s_a"]
    assert [(s.table.name, len(rows)) for s, rows in first[1:]] == [("events", 3)]  # type: ignore[attr-defined]
    later = statements.of([record("s_a", 3, stored=True), record("s_b", 8, stored=True)])
    assert [s.table.name for s, _ in later] == ["events"]  # type: ignore[attr-defined]


class Capture:
    """A store that keeps each record and commits it at once."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []

    def append(self, record: EventRecord) -> asyncio.Future[None]:
        self.records.append(record)
        future = asyncio.get_running_loop().create_future()
        if record.on_stored is not None:
            record.on_stored()
        future.set_result(None)
        return future


async def test_the_event_log_marks_its_session_stored_after_its_first_commit() -> None:
    store: Any = Capture()
    log = SessionEventLog("s_capture_log", store, Redactor())
    first = log.publish(TeamMessage(type="TextMessage", data={"n": 0}), None)
    await first
    await log.publish(TeamMessage(type="TextMessage", data={"n": 1}), None)
    assert [r.session_stored for r in store.records] == [False, True]


async def test_a_session_whose_first_event_failed_gets_its_row_with_the_next(tmp_path: Path) -> None:
    store = RunStore(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    await store.start()
    try:
        async with store.engine.begin() as conn:  # seq 1 is taken: the session's first event is refused
            await conn.execute(
                insert(events).values(
                    session_id="s_first_fails", seq=1, run_id=None, type="system", created_at=now_iso(), payload="{}"
                )
            )
        log = SessionEventLog("s_first_fails", store, Redactor(), owner="bob")
        refused = log.publish(TeamMessage(type="TextMessage", data={"n": 0}), None)
        try:
            await refused
            raise AssertionError("the conflicting event was stored")
        except StoreError:
            pass
        assert await store.session_owner("s_first_fails") is None
        await log.publish(TeamMessage(type="TextMessage", data={"n": 1}), None)  # seq 2
        assert await store.session_owner("s_first_fails") == "bob"
        async with store.engine.connect() as conn:
            rows = (await conn.execute(select(sessions.c.session_id))).scalars().all()
        assert rows == ["s_first_fails"]
    finally:
        await store.stop()


class StubSession:
    state = SessionState.IDLE

    async def close(self) -> None:
        pass


async def test_a_new_session_id_costs_no_store_query_and_a_known_one_resumes(tmp_path: Path) -> None:
    store = RunStore(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    await store.start()
    queried: list[str] = []
    max_seq = store.max_seq

    async def counted(session_id: str) -> int:
        queried.append(session_id)
        return await max_seq(session_id)

    store.max_seq = counted  # type: ignore[method-assign]

    async def build(session_id: str, event_log: SessionEventLog) -> Any:
        return StubSession()

    try:
        registry = SessionRegistry(store, Redactor(), build, idle_s=60)
        fresh = await registry.attach(None, "local")
        assert (fresh.resumed, fresh.entry.log.last_seq, queried) == (False, 0, [])
        await fresh.entry.log.publish(TeamMessage(type="TextMessage", data={"n": 0}), None)
        again = await SessionRegistry(store, Redactor(), build, idle_s=60).attach(fresh.entry.log.session_id, "local")
        assert (again.resumed, again.entry.log.last_seq, queried) == (True, 1, [fresh.entry.log.session_id])
    finally:
        await store.stop()
