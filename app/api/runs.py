"""REST: the run history.

Every response and status code is declared with a model, so /openapi.json describes exactly what the server
answers (tests/app/api/test_rest_schemathesis.py holds the server to it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from app.api.deps import ServicesDep, UserDep
from app.core.protocol import ServerEvent, Usage

router = APIRouter()
MAX_OFFSET = 1_000_000_000  # larger values overflow the database's 64-bit integers
MAX_SEQ = 2**53 - 1  # the largest integer every JSON client reads exactly


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
    spent: dict[str, Any] | None = Field(default=None, description="What the run used of its budget, `usd` included.")
    duration_s: float | None = None
    first_seq: int | None = None
    last_seq: int | None = None


class RunPage(BaseModel):
    runs: list[Run]
    limit: int
    offset: int


class RunEvents(BaseModel):
    run_id: str
    events: list[ServerEvent]


class NotFound(BaseModel):
    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": NotFound, "description": "No run with that id."}}


@router.get("/runs", response_model=RunPage)
async def list_runs(
    services: ServicesDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    session_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    runs = await services.store.list_runs(owner=user, limit=limit, offset=offset, session_id=session_id, status=status)
    return {"runs": runs, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}", response_model=Run, responses=NOT_FOUND)
async def get_run(services: ServicesDep, user: UserDep, run_id: str) -> dict[str, Any]:
    run = await services.store.get_run(run_id[:64], owner=user)
    if run is None:
        raise HTTPException(status_code=404, detail=f"No run with id {run_id[:64]!r}.")
    return run


@router.get("/runs/{run_id}/events", response_model=RunEvents, responses=NOT_FOUND)
async def run_events(
    services: ServicesDep,
    user: UserDep,
    run_id: str,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> dict[str, Any]:
    store = services.store
    if await store.get_run(run_id[:64], owner=user) is None:  # another user's run answers as if absent
        raise HTTPException(status_code=404, detail=f"No run with id {run_id[:64]!r}.")
    return {"run_id": run_id, "events": await store.run_events(run_id[:64], after_seq=after, limit=limit)}
