"""The run store: group commit, order, replay paging, run rows; on PostgreSQL too when TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agents.events import RunFinished, RunStarted, StateChanged, TeamMessage, Usage
from agents.stop import StopReason
from app.core.redaction import Redactor
from app.store.event_log import Inbox, SessionEventLog
from app.store.run_store import RunStore, StoreError, normalize_database_url


def database_urls(tmp_path: Path) -> list[str]:
    urls = [f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"]
    if os.environ.get("TEST_DATABASE_URL"):
        urls.append(os.environ["TEST_DATABASE_URL"])
    return urls


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunStore]:
    if request.param == "postgres":
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.skip("TEST_DATABASE_URL is not set (CI sets it when PostgreSQL is installed)")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    run_store = RunStore(url)
    await run_store.start()
    yield run_store
    await run_store.stop()


async def test_events_stored_in_order_with_group_commit(store: RunStore) -> None:
    session = "s_" + uuid.uuid4().hex[:12]
    log = SessionEventLog(session, store, Redactor())
    inbox = Inbox(10_000)
    log.subscribe(inbox)
    run_id = "run_" + uuid.uuid4().hex[:12]
    await log.publish(RunStarted(task="t", followup=False, session_id=session), run_id)
    await asyncio.gather(*(log.publish(TeamMessage(type="TextMessage", data={"n": n}), run_id) for n in range(500)))
    commits_before = store.commits
    assert await store.max_seq(session) == 501
    delivered: list[Any] = []
    while len(delivered) < 501:
        item = await inbox.get()
        assert item is not None
        delivered.append(item.seq)
    assert delivered == list(range(1, 502))  # delivered in seq order, each once
    rows = [seq async for seq, _ in log.stored_after(0, page=64)]
    assert rows == list(range(1, 502))  # paging crosses page edges cleanly
    assert store.commits == commits_before
    assert commits_before < 100  # 501 events in far fewer commits than events
    run = await store.get_run(run_id, owner=None)
    assert run is not None and run["status"] == "running" and run["first_seq"] == 1


async def test_run_row_follows_state_and_finish(store: RunStore) -> None:
    session = "s_" + uuid.uuid4().hex[:12]
    log = SessionEventLog(session, store, Redactor())
    run_id = "run_" + uuid.uuid4().hex[:12]
    await log.publish(RunStarted(task="q", followup=False, session_id=session), run_id)
    await log.publish(StateChanged(state="paused"), run_id)
    assert (await store.get_run(run_id, owner=None))["status"] == "paused"  # type: ignore[index]
    assert run_id in {r["run_id"] for r in await store.active_runs()}
    finished = RunFinished(
        final_answer="42",
        complete=True,
        stop_reason=StopReason.COMPLETED,
        task="q",
        duration_s=1.5,
        usage=Usage(model_calls=3, prompt_tokens=10, completion_tokens=5),
        messages=4,
    )
    await log.publish(finished, run_id)
    run = await store.get_run(run_id, owner=None)
    assert run is not None
    assert (run["status"], run["final_answer"], run["usage"]["model_calls"], run["last_seq"]) == (
        "completed",
        "42",
        3,
        3,
    )
    events = await store.run_events(run_id)
    assert [e["type"] for e in events] == ["run_started", "system", "run_finished"]


async def test_secrets_never_stored(store: RunStore) -> None:
    session = "s_" + uuid.uuid4().hex[:12]
    log = SessionEventLog(session, store, Redactor(["my-configured-secret-value"]))
    content = (
        "key " + "sk-" + "proj-abcdefghijklmnopqrstuvwxyz123456 and my-configured-secret-value and "
        "Authorization: Bearer abcdefghijklmnop"
    )
    await log.publish(TeamMessage(type="TextMessage", data={"content": content}), None)
    ((_, text),) = await store.events_after(session, 0)
    assert "sk-proj" not in text and "my-configured-secret-value" not in text and "abcdefghijklmnop" not in text
    assert json.loads(text)["data"]["content"].count("***") == 3


def test_database_url_normalization() -> None:
    assert normalize_database_url("sqlite:///./x.db") == "sqlite+aiosqlite:///./x.db"
    assert normalize_database_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalize_database_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalize_database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_slow_subscriber_is_cut_off_not_blocking(store: RunStore) -> None:
    session = "s_" + uuid.uuid4().hex[:12]
    log = SessionEventLog(session, store, Redactor())
    slow, fast = Inbox(5), Inbox(1000)
    log.subscribe(slow)
    log.subscribe(fast)
    for n in range(20):
        await log.publish(TeamMessage(type="TextMessage", data={"n": n}), None)
    assert slow.overflowed and await slow.get() is None  # the connection will be closed; it reconnects
    assert [(await fast.get()).seq for _ in range(20)] == list(range(1, 21))  # type: ignore[union-attr]


async def test_one_bad_row_fails_only_its_own_event_and_the_batch_lands(tmp_path: Path) -> None:
    store = RunStore(f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}")
    await store.start()
    try:
        good, bad = (
            SessionEventLog("s_good_session", store, Redactor()),
            SessionEventLog("s_bad_session", store, Redactor()),
        )
        await bad.publish(TeamMessage(type="TextMessage", data={"n": 0}), None)  # seq 1 of the bad session
        bad._seq = 0  # its next event reuses seq 1: the database refuses that row
        commits = store.commits
        futures = [good.publish(TeamMessage(type="TextMessage", data={"n": n}), None) for n in range(3)]
        futures.insert(1, bad.publish(TeamMessage(type="TextMessage", data={"n": 1}), None))
        futures.append(bad.publish(TeamMessage(type="TextMessage", data={"n": 2}), None))  # seq 2: fine
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert [isinstance(r, StoreError) for r in results] == [False, True, False, False, False]
        assert store.commits - commits == 4  # the batch failed once, then 4 of its 5 rows landed one by one
        assert [seq for seq, _ in await store.events_after("s_good_session", 0)] == [1, 2, 3]
        assert [seq for seq, _ in await store.events_after("s_bad_session", 0)] == [1, 2]
    finally:
        await store.stop()


async def test_a_database_from_before_users_gets_owners_in_place(tmp_path: Path) -> None:
    """Runs stored before users existed belong to the local owner after an upgrade, and stay listed."""
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE runs (run_id VARCHAR(64) PRIMARY KEY, session_id VARCHAR(64) NOT NULL, task TEXT NOT NULL,"
            " status VARCHAR(32) NOT NULL, created_at VARCHAR(40) NOT NULL, finished_at VARCHAR(40), final_answer TEXT,"
            " stop_reason VARCHAR(32), usage TEXT, duration_s FLOAT, first_seq INTEGER, last_seq INTEGER)"
        )
        db.execute(
            "INSERT INTO runs VALUES ('run_old', 's_old_session', 'q', 'completed', '2026-11-01', NULL, 'a',"
            " 'completed', NULL, 1.0, 1, 3)"
        )
    store = RunStore(f"sqlite+aiosqlite:///{path}")
    await store.start()
    try:
        runs = await store.list_runs(owner="local")
        assert [r["run_id"] for r in runs] == ["run_old"] and runs[0]["owner"] == "local"
        assert await store.list_runs(owner="alice") == []
    finally:
        await store.stop()


async def test_servers_starting_together_on_an_empty_postgres_all_start() -> None:
    """Schema creation is serialized: four processes' stores starting at once on an empty database all start
    (without the lock, create_all races and one dies on a UniqueViolation)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it when PostgreSQL is installed)")
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.store.schema import metadata

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()
    stores = [RunStore(url) for _ in range(4)]
    results = await asyncio.gather(*(s.start() for s in stores), return_exceptions=True)
    try:
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await stores[0].list_runs(owner="local") == []
    finally:
        await asyncio.gather(*(s.stop() for s in stores if s._engine is not None))


async def test_the_write_backlog_is_bounded(tmp_path: Path) -> None:
    """A database that falls far behind gets events refused (the run then ends as error), not a queue that
    grows without end."""
    store = RunStore(f"sqlite+aiosqlite:///{tmp_path / 'backlog.db'}", max_backlog=10)
    await store.start()
    try:
        log = SessionEventLog("s_backlog_test", store, Redactor())
        futures = [log.publish(TeamMessage(type="TextMessage", data={"n": n}), None) for n in range(25)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        refused = [r for r in results if isinstance(r, StoreError)]
        assert 0 < len(refused) <= 15 and "behind" in str(refused[0])
        assert store.pending == 0
    finally:
        await store.stop()
