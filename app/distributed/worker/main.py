"""`research-team worker`: a worker process (app/distributed/worker/worker.py) until SIGTERM or SIGINT.

Tests and benchmarks call `run_worker()` with their own model clients and tools, as they do with create_app().
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

from autogen_core.tools import BaseTool

from agents.team.tool_schemas import cache_tool_schemas
from app.core import telemetry
from app.core.logging_setup import configure_logging
from app.core.redaction import Redactor
from app.core.settings import Settings
from app.distributed.bus import RedisUnreachable, new_process_id, open_redis
from app.distributed.signing import BusSigner, ClusterSecretError
from app.distributed.worker.metrics import serve_worker_metrics
from app.distributed.worker.worker import Worker
from app.sessions.team_tools import open_team_tools
from app.sessions.team_wiring import DeveloperToolsFactory, ModelClientsFactory, TeamWiring
from app.sessions.user_limits import UserLimits
from app.store.run_store import RunStore

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings,
    *,
    model_clients: ModelClientsFactory | None = None,
    researcher_tools: Sequence[BaseTool[Any, Any]] | None = None,
    developer_tools: DeveloperToolsFactory | None = None,
    configure_logs: bool = True,
    on_ready: Callable[[Worker], None] | None = None,
) -> None:
    if not settings.redis_url:
        raise SystemExit("A worker needs REDIS_URL (and a DATABASE_URL every process can reach, PostgreSQL).")
    try:
        signer = BusSigner(settings.cluster_secret_value())
    except ClusterSecretError as exc:
        raise SystemExit(str(exc)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        try:  # before anything else: a wrong REDIS_URL is said at once, in plain words
            redis = await open_redis(settings.redis_url)
        except RedisUnreachable as exc:
            raise SystemExit(str(exc)) from None
        stack.push_async_callback(redis.aclose)
        tools = await open_team_tools(settings, researcher_tools, developer_tools)
        stack.push_async_callback(tools.close)
        redactor = Redactor(settings.secret_values() + tools.secrets)
        if configure_logs:
            configure_logging(settings.log_level, json_lines=settings.log_json, redactor=redactor)
        telemetry.install()  # as create_app does: model calls -> metrics and spans
        cache_tool_schemas()
        store = RunStore(settings.database_url)
        await store.start()
        stack.push_async_callback(store.stop)
        wiring = TeamWiring(
            settings,
            tools.researcher,
            tools.developer,
            release_session=tools.release,
            model_clients=model_clients,
            checkpoints=True,
            run_slots=asyncio.Semaphore(settings.worker_max_active_runs),
            user_limits=UserLimits(store, max_runs=settings.max_runs_per_user, usd_per_day=settings.user_usd_per_day),
        )
        stack.push_async_callback(wiring.close)
        worker = Worker(
            new_process_id("worker"),
            redis,
            settings.redis_url,
            store,
            redactor,
            wiring.build_session,
            lease_ttl_s=settings.lease_ttl_s,
            idle_s=settings.session_idle_s,
            max_sessions=settings.worker_max_sessions,
            signer=signer,
            run_budget=settings.run_budget,
        )
        await worker.start()
        stack.push_async_callback(worker.stop)
        if settings.worker_metrics_port:
            serve_worker_metrics(worker, settings.worker_metrics_port)
        log.info("worker ready", extra={"worker": worker.worker_id, "database": store.dialect})
        if on_ready is not None:
            on_ready(worker)
        await stop.wait()
