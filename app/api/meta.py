"""GET /health and GET /protocol.json."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.api.deps import ServicesDep
from app.protocol import protocol_schema
from app.services import Services

router = APIRouter()


class CodeExecution(BaseModel):
    """How the Developer's code runs: isolated (bubblewrap, the sandbox service), or why it cannot."""

    executor: str
    isolated: bool
    runs_code: bool
    detail: str


class Health(BaseModel):
    """Without the token (when APP_TOKEN is set) only `status`: the server is up, nothing about its setup."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"] | None = None
    database_backend: str | None = None
    model_access: bool | None = None
    sessions: int | None = None
    code_execution: CodeExecution | None = None
    role: Literal["embedded", "gateway"] | None = None
    workers: int | None = Field(default=None, description="A gateway's live workers; with none, no team can work.")


@router.get("/health", response_model=Health, response_model_exclude_none=True)
async def health(services: ServicesDep, request: Request) -> Health:
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        database: Literal["ok", "unavailable"] = "ok"
    except Exception:  # noqa: BLE001 - health reports, it does not fail
        database = "unavailable"
    code = _code_execution(services)
    workers = await _live_workers(services)
    healthy = database == "ok" and (code is None or code.runs_code) and workers != 0
    status: Literal["ok", "degraded"] = "ok" if healthy else "degraded"
    if not getattr(request.state, "authenticated", True):
        return Health(status=status)
    return Health(
        status=status,
        database=database,
        database_backend=services.store.dialect,
        model_access=services.settings.has_model_access,
        sessions=len(services.registry),
        code_execution=code,
        role="gateway" if services.live_workers is not None else "embedded",
        workers=workers,
    )


async def _live_workers(services: Services) -> int | None:
    """None in one process; else the workers that beat within three leases (0 when Redis is unreachable)."""
    if services.live_workers is None:
        return None
    try:
        return await services.live_workers(3 * services.settings.lease_ttl_s)
    except Exception:  # noqa: BLE001 - health reports, it does not fail
        return 0


def _code_execution(services: Services) -> CodeExecution | None:
    if services.sandbox is None:
        return None
    isolation = services.sandbox.isolation
    return CodeExecution(
        executor=isolation.executor, isolated=isolation.ok, runs_code=isolation.runs_code, detail=isolation.detail
    )


@router.get("/protocol.json")
async def protocol() -> dict[str, Any]:
    return protocol_schema()
