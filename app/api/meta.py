"""GET /health and GET /protocol.json."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import ServicesDep
from app.protocol import protocol_schema

router = APIRouter()


class Health(BaseModel):
    """Without the token (when APP_TOKEN is set) only `status`: the server is up, nothing about its setup."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"] | None = None
    database_backend: str | None = None
    model_access: bool | None = None
    sessions: int | None = None


@router.get("/health", response_model=Health, response_model_exclude_none=True)
async def health(services: ServicesDep, request: Request) -> Health:
    try:
        async with services.store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        database: Literal["ok", "unavailable"] = "ok"
    except Exception:  # noqa: BLE001 - health reports, it does not fail
        database = "unavailable"
    status: Literal["ok", "degraded"] = "ok" if database == "ok" else "degraded"
    if not getattr(request.state, "authenticated", True):
        return Health(status=status)
    return Health(
        status=status,
        database=database,
        database_backend=services.store.dialect,
        model_access=services.settings.has_model_access,
        sessions=len(services.registry),
    )


@router.get("/protocol.json")
async def protocol() -> dict[str, Any]:
    return protocol_schema()
