"""REST: health, run history, the protocol schema.

Every response and status code is declared with a model, so /openapi.json describes exactly what the server
answers (tests/test_rest_schemathesis.py holds the server to it).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.protocol import Usage, protocol_schema
from app.services import Services

router = APIRouter()
MAX_OFFSET = 1_000_000_000  # larger values overflow the database's 64-bit integers
MAX_SEQ = 2**53 - 1  # the largest integer every JSON client reads exactly


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    database_backend: str
    model_access: bool
    sessions: int


class Run(BaseModel):
    run_id: str
    session_id: str
    task: str
    status: str
    created_at: str
    finished_at: str | None = None
    final_answer: str | None = None
    stop_reason: str | None = None
    usage: Usage | None = None
    duration_s: float | None = None
    first_seq: int | None = None
    last_seq: int | None = None


class RunPage(BaseModel):
    runs: list[Run]
    limit: int
    offset: int


class RunEvents(BaseModel):
    run_id: str
    events: list[dict[str, Any]]  # envelopes of the /ws/team protocol (GET /protocol.json)


class NotFound(BaseModel):
    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": NotFound, "description": "No run with that id."}}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get("/health", response_model=Health)
async def health(request: Request) -> dict[str, Any]:
    services = _services(request)
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - health reports, it does not fail
        database = "unavailable"
    return {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "database_backend": services.store.dialect,
        "model_access": services.settings.has_model_access,
        "sessions": len(services.registry),
    }


@router.get("/runs", response_model=RunPage)
async def list_runs(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    session_id: str | None = Query(None, max_length=64),
    status: str | None = Query(None, max_length=32),
) -> dict[str, Any]:
    runs = await _services(request).store.list_runs(limit=limit, offset=offset, session_id=session_id, status=status)
    return {"runs": runs, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}", response_model=Run, responses=NOT_FOUND)
async def get_run(request: Request, run_id: str) -> dict[str, Any]:
    run = await _services(request).store.get_run(run_id[:64])
    if run is None:
        raise HTTPException(status_code=404, detail=f"No run with id {run_id[:64]!r}.")
    return run


@router.get("/runs/{run_id}/events", response_model=RunEvents, responses=NOT_FOUND)
async def run_events(
    request: Request, run_id: str, after: int = Query(0, ge=0, le=MAX_SEQ), limit: int = Query(1000, ge=1, le=5000)
) -> dict[str, Any]:
    store = _services(request).store
    if await store.get_run(run_id[:64]) is None:
        raise HTTPException(status_code=404, detail=f"No run with id {run_id[:64]!r}.")
    return {"run_id": run_id, "events": await store.run_events(run_id[:64], after_seq=after, limit=limit)}


@router.get("/protocol.json")
async def protocol() -> dict[str, Any]:
    return protocol_schema()
