"""A real deployment per test: Debian's redis-server on a free port, an emptied PostgreSQL database
(TEST_DATABASE_URL), the fake OpenAI for the team's models, and the gateways and workers a test adds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.store.schema import metadata
from tests.fakes import FakeOpenAI
from tests.support.cluster import DATABASE_URL, Cluster, RedisServer, cluster_on


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    assert DATABASE_URL is not None
    engine = create_async_engine(DATABASE_URL)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(text("SELECT 1"))
    await engine.dispose()
    yield DATABASE_URL


@pytest.fixture
def fake_models() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def cluster(
    redis_server: RedisServer, empty_database: str, fake_models: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[Cluster]:
    async with cluster_on(redis_server.url, empty_database, tmp_path, fake_models) as running:
        yield running
