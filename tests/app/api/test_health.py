"""/health says how code runs, and says plainly when it cannot: no isolation tool means no code runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.support.live_server import live_app, make_settings
from tests.support.scripted import research_tools


@pytest.mark.parametrize(
    ("bwrap", "executor", "status"), [("bwrap", "bubblewrap", "ok"), ("/nonexistent/bwrap", "unavailable", "degraded")]
)
async def test_health_reports_code_isolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bwrap: str, executor: str, status: str
) -> None:
    monkeypatch.setenv("CODE_BWRAP_PATH", bwrap)
    monkeypatch.setenv("CODE_SCRATCH_ROOT", str(tmp_path / "scratch"))
    app = create_app(make_settings(tmp_path), researcher_tools=research_tools(), configure_logs=False)
    async with live_app(app) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            health = (await http.get("/health")).json()
    assert health["status"] == status
    assert health["code_execution"]["executor"] == executor
    assert health["code_execution"]["runs_code"] is (status == "ok")
    if status == "degraded":
        assert "unsafe-local" in health["code_execution"]["detail"]  # says how to opt in, and that it is unsafe
