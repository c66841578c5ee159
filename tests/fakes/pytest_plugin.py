"""Pytest fixtures for the fake OpenAI server.

Enable with `pytest_plugins = ["tests.fakes.pytest_plugin"]` in tests/conftest.py.

    def test_x(fake_openai): ...                       # a started FakeOpenAI, stopped after the test
    @pytest.mark.fake_openai(session_expiry_s=1)      # constructor options for this test's fake
    def test_y(fake_openai_env): ...                   # same, with OPENAI_API_KEY / OPENAI_BASE_URL set
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import FakeOpenAI


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_openai(**options): FakeOpenAI constructor options for the fake_openai fixture"
    )


@pytest.fixture
def fake_openai(request: pytest.FixtureRequest) -> Iterator[FakeOpenAI]:
    """A running `FakeOpenAI` (function scope). Options come from `@pytest.mark.fake_openai(...)`."""
    marker = request.node.get_closest_marker("fake_openai")
    options = dict(marker.kwargs) if marker else {}
    with FakeOpenAI(**options) as fake:
        yield fake


@pytest.fixture
def fake_openai_env(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """`fake_openai` with OPENAI_API_KEY and OPENAI_BASE_URL pointing at it (for code that reads settings)."""
    for name, value in fake_openai.env().items():
        monkeypatch.setenv(name, value)
    yield fake_openai
