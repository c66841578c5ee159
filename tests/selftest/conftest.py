"""The fake OpenAI as its self-tests use it: checked after each test, and an SDK client of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeOpenAI


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Any:
    """The plugin's fake; afterwards, every server event it sent must have passed the SDK's types."""
    yield fake_openai
    assert fake_openai.realtime.invalid_server_events == []
    assert fake_openai.realtime.internal_errors == []


@pytest.fixture
async def client(fake: FakeOpenAI) -> Any:
    """An AsyncOpenAI client of the fake (max_retries=0), closed after the test."""
    async with fake.async_client() as c:
        yield c
