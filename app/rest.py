"""REST: health, run history, the protocol schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import text

from app.protocol import protocol_schema
from app.services import Services

router = APIRouter()


def _services(request: Request) -> Services:
    return request.app.state.services


@router.get("/health")
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


@router.get("/runs")
async def list_runs(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    session_id: str | None = Query(None, max_length=64),
    status: str | None = Query(None, max_length=32),
) -> dict[str, Any]:
    runs = await _services(request).store.list_runs(limit=limit, offset=offset, session_id=session_id, status=status)
    return {"runs": runs, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}")
async def get_run(request: Request, run_id: str) -> dict[str, Any]:
    run = await _services(request).store.get_run(run_id[:64])
    if run is None:
        raise HTTPException(status_code=404, detail=f"No run with id {run_id[:64]!r}.")
    return run


@router.get("/runs/{run_id}/events")
async def run_events(
    request: Request, run_id: str, after: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=5000)
) -> dict[str, Any]:
    store = _services(request).store
    if await store.get_run(run_id[:64]) is None:
        raise HTTPException(status_code=404, detail=f"No run with id {run_id[:64]!r}.")
    return {"run_id": run_id, "events": await store.run_events(run_id[:64], after_seq=after, limit=limit)}


@router.get("/protocol.json")
async def protocol() -> dict[str, Any]:
    return protocol_schema()
