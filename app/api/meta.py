"""GET /health and GET /protocol.json."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import ServicesDep
from app.protocol import protocol_schema

router = APIRouter()


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    database_backend: str
    model_access: bool
    sessions: int


@router.get("/health", response_model=Health)
async def health(services: ServicesDep) -> Health:
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        database: Literal["ok", "unavailable"] = "ok"
    except Exception:  # noqa: BLE001 - health reports, it does not fail
        database = "unavailable"
    return Health(
        status="ok" if database == "ok" else "degraded",
        database=database,
        database_backend=services.store.dialect,
        model_access=services.settings.has_model_access,
        sessions=len(services.registry),
    )


@router.get("/protocol.json")
async def protocol() -> dict[str, Any]:
    return protocol_schema()
