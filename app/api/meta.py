"""GET /health, GET /protocol.json and GET /metrics."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.api.deps import ServicesDep
from app.core.metrics import ACTIVE_SESSIONS, REGISTRY, STORE_QUEUE
from app.core.protocol import protocol_schema
from app.services import Services
from app.sessions.model_lifecycle import WARN_DAYS, ModelCheck

router = APIRouter()


class CodeExecution(BaseModel):
    """How the Developer's code runs: isolated (bubblewrap, the sandbox service), or why it cannot."""

    executor: str
    isolated: bool
    runs_code: bool
    detail: str


class ModelHealth(BaseModel):
    """What GET /v1/models said of the configured models at `checked_at` (app/sessions/model_lifecycle.py)."""

    listing: Literal["ok", "unsupported", "refused", "unreachable"]
    checked_at: str
    problems: list[str] = Field(description="Missing models (what to set) and shutdowns within 60 days.")
    models: list[dict[str, Any]]


class RedisHealth(BaseModel):
    """A gateway's Redis: `unavailable` with the reason during an outage (docs/scaling.md says what it costs)."""

    status: Literal["ok", "unavailable"]
    reason: str | None = None


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
    redis: RedisHealth | None = None
    models: ModelHealth | None = None


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
    check = services.model_watch.latest if services.model_watch is not None else None
    models_ok = check is None or not check.degraded
    redis = _redis_health(services)
    redis_ok = redis is None or redis.status == "ok"
    healthy = database == "ok" and (code is None or code.runs_code) and workers != 0 and models_ok and redis_ok
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
        redis=redis,
        models=_model_health(check),
    )


def _redis_health(services: Services) -> RedisHealth | None:
    if services.redis_outage is None:
        return None
    reason = services.redis_outage()
    return RedisHealth(status="ok") if reason is None else RedisHealth(status="unavailable", reason=reason)


def _model_health(check: ModelCheck | None) -> ModelHealth | None:
    if check is None:
        return None
    return ModelHealth(
        listing=check.listing,
        checked_at=check.checked_at.isoformat(timespec="seconds"),
        problems=[s.message for s in check.missing + [r for r in check.retiring if (r.days_left or 0) <= WARN_DAYS]],
        models=[s.as_json() for s in check.states],
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


@router.get("/metrics", include_in_schema=False)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text format; the gauges are read now, the counters are fed as things happen."""
    ACTIVE_SESSIONS.set(len(services.registry))
    STORE_QUEUE.set(services.store.pending)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
