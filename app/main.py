"""The ASGI app: `uvicorn app.main:app`. create_app() lets tests swap models and tools for scripted ones."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

from autogen_core.tools import BaseTool
from fastapi import FastAPI

from agents.events import ErrorCode, RunFinished, Usage
from agents.stop import StopReason
from agents.team.tool_schemas import cache_tool_schemas
from app.api import docs, meta, runs, session_route, static, team_ws, voice_webrtc, voice_ws
from app.api.mcp import mount_mcp
from app.core import telemetry
from app.core.logging_setup import configure_logging
from app.core.peer import ProxyTrust, ResearchApp
from app.core.ratelimit import RateBuckets
from app.core.redaction import Redactor
from app.core.settings import Settings
from app.distributed.gateway.open import open_gateway
from app.realtime.narrator.narrator import NarratorSettings
from app.realtime.voice_calls import VoiceCalls
from app.services import Services
from app.sessions.access import AccessGuard
from app.sessions.model_lifecycle import ModelWatch, configured_models
from app.sessions.registry import Registry, SessionRegistry
from app.sessions.team_tools import open_team_tools
from app.sessions.team_wiring import DeveloperToolsFactory, ModelClientsFactory, TeamWiring
from app.sessions.user_limits import UserLimits
from app.store.event_log import SessionEventLog
from app.store.run_store import RunStore
from app.store.users import TrustedProxy, UserDirectory

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    model_clients: ModelClientsFactory | None = None,
    researcher_tools: Sequence[BaseTool[Any, Any]] | None = None,
    developer_tools: DeveloperToolsFactory | None = None,
    narrator: NarratorSettings | None = None,
    realtime_connect: Callable[[], Any] | None = None,
    configure_logs: bool = True,
    extra_routers: Sequence[Any] = (),
) -> FastAPI:
    """The app. Defaults: models from settings, the real tools, the code sandbox from settings.tools, the
    narrator's timings from settings. Tests pass scripted models and tools, and quicker narrator timings."""
    settings = settings or Settings()
    users = user_directory(settings)
    narrator = narrator or narrator_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            store = RunStore(settings.database_url)
            live_workers = redis_outage = None
            if settings.redis_url:  # a gateway: sessions live on workers (app/distributed)
                redactor, sandbox = Redactor(settings.secret_values()), None
                await _start_store(stack, store, users, settings, redactor, configure_logs)
                gateway = await open_gateway(stack, settings, store, redactor)
                registry: Registry = gateway
                live_workers, redis_outage = gateway.live_workers, gateway.redis_outage
            else:  # everything in this process
                tools = await open_team_tools(settings, researcher_tools, developer_tools)
                stack.push_async_callback(tools.close)
                redactor = Redactor(settings.secret_values() + tools.secrets)
                sandbox = tools.sandbox
                await _start_store(stack, store, users, settings, redactor, configure_logs)
                await close_interrupted_runs(store, redactor)
                wiring = TeamWiring(
                    settings,
                    tools.researcher,
                    tools.developer,
                    release_session=tools.release,
                    model_clients=model_clients,
                    user_limits=user_limits(store, settings),
                )
                stack.push_async_callback(wiring.close)
                registry = SessionRegistry(
                    store,
                    redactor,
                    wiring.build_session,
                    idle_s=settings.session_idle_s,
                    max_sessions=settings.max_sessions,
                    max_per_user=settings.max_sessions_per_user,
                )
                registry.start_sweeper()
            stack.push_async_callback(registry.close_all)
            voice = settings.voice
            voice_calls = VoiceCalls(max_calls=voice.voice_calls_max, per_user=voice.voice_sessions_per_user)
            stack.push_async_callback(voice_calls.close_all)  # before the registry closes: calls hold sessions
            openai_client = realtime_client(settings)
            model_watch = await start_model_watch(stack, openai_client, settings) if openai_client else None
            app.state.services = Services(
                settings=settings,
                narrator=narrator,
                store=store,
                registry=registry,
                redactor=redactor,
                voice_calls=voice_calls,
                session_buckets=RateBuckets(settings.session_rate_per_min),
                voice_call_buckets=RateBuckets(settings.session_rate_per_min),
                sandbox=sandbox,
                openai_client=openai_client,
                realtime_connect=realtime_connect,
                model_watch=model_watch,
                live_workers=live_workers,
                redis_outage=redis_outage,
            )
            isolation = sandbox.isolation if sandbox is not None else None
            log.info(
                "server ready",
                extra={
                    "role": "gateway" if settings.redis_url else "embedded",
                    "database": store.dialect,
                    "model_access": settings.has_model_access,
                    "code_isolation": f"{isolation.executor}: {isolation.detail}" if isolation else "not here",
                },
            )
            # What startup made lives as long as the process: out of the collector's sight, a full collection
            # under load pauses the loop for ~50 ms instead of ~150-210 ms (py-spy on bench/team_ws_load.py).
            gc.collect()
            gc.freeze()
            yield

    app = ResearchApp(  # FastAPI that takes the client address from the socket, not from uvicorn (app/core/peer.py)
        title="Research team you can talk to",
        description="An AutoGen Manager/Researcher/Developer team over WebSocket and REST, with a voice narrator.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # app/api/docs.py serves /docs from packaged files (FastAPI's uses a CDN)
        redoc_url=None,
    )
    app.state.users = users  # who may call (the startup banner says whether tokens are needed)
    for module in (meta, runs, team_ws, voice_ws, voice_webrtc, session_route, static, docs):
        app.include_router(module.router)
    for router in extra_routers:
        app.include_router(router)
    mount_mcp(app, settings)  # the team as an MCP server at /mcp (app/api/mcp.py)
    telemetry.install()  # model calls -> metrics and spans; OTLP when configured (app/core/telemetry.py)
    cache_tool_schemas()  # AutoGen rebuilds each tool's schema on every model call (agents/team/tool_schemas.py)
    app.add_middleware(
        AccessGuard,
        users=users,
        allowed_origins=settings.allowed_origins,
        allowed_hosts=settings.allowed_hosts,
        proxies=ProxyTrust(settings.trusted_proxies),
    )
    return app


async def _start_store(
    stack: AsyncExitStack,
    store: RunStore,
    users: UserDirectory,
    settings: Settings,
    redactor: Redactor,
    configure_logs: bool,
) -> None:
    if configure_logs:
        configure_logging(settings.log_level, json_lines=settings.log_json, redactor=redactor)
    await store.start()
    stack.push_async_callback(store.stop)
    users.attach(store)
    await users.load()


async def start_model_watch(stack: AsyncExitStack, client: Any, settings: Settings) -> ModelWatch:
    """Check the configured models now (a few seconds at most: a slow API must not hold the server up), then
    every MODEL_CHECK_EVERY_S."""
    watch = ModelWatch(client, configured_models(settings, settings.voice), settings.model_check_every_s)
    try:
        async with asyncio.timeout(5.0):
            await watch.check()
    except TimeoutError:
        log.warning("model check: GET /v1/models took over 5 s; checking again later")
    watch.start()
    stack.push_async_callback(watch.close)
    return watch


def narrator_settings(settings: Settings) -> NarratorSettings:
    """The Realtime narrator's voice, transcription and progress updates, from settings."""
    return NarratorSettings(
        voice=settings.realtime_voice,
        transcription_model=settings.realtime_transcription_model,
        progress_update_after_s=settings.progress_update_after_s,
        max_progress_updates=settings.max_progress_updates,
    )


def user_limits(store: RunStore, settings: Settings) -> UserLimits:
    return UserLimits(store, max_runs=settings.max_runs_per_user, usd_per_day=settings.user_usd_per_day)


def user_directory(settings: Settings) -> UserDirectory:
    trusted = None
    if settings.auth_trusted_header:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies)
        trusted = TrustedProxy(settings.auth_trusted_header, networks)
    return UserDirectory(None, settings.static_users(), trusted)


def realtime_client(settings: Settings) -> Any:
    """The OpenAI client the narrator and /session use (OPENAI_BASE_URL honoured), or None without a key."""
    if settings.openai_api_key is None:
        return None
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=settings.model_max_retries,
    )


async def close_interrupted_runs(store: RunStore, redactor: Redactor) -> int:
    """Runs a previous server process left running or paused get a run_finished event 'interrupted', so the
    store is consistent and a client that reconnects to that session is told."""
    active = await store.active_runs()
    for run in active:
        last_seq = await store.max_seq(run["session_id"])
        event_log = SessionEventLog(run["session_id"], store, redactor, last_seq=last_seq, owner=run["owner"])
        started = datetime.fromisoformat(run["created_at"])
        finished = RunFinished(
            final_answer="",
            complete=False,
            stop_reason=StopReason.INTERRUPTED,
            task=run["task"],
            duration_s=round(time.time() - started.timestamp(), 3),
            usage=Usage(),
            messages=0,
            error="The server stopped while this run was active.",
            error_code=ErrorCode.INTERRUPTED,
        )
        await event_log.publish(finished, run["run_id"])
    if active:
        log.warning("marked interrupted runs", extra={"count": len(active)})
    return len(active)


app = create_app()
