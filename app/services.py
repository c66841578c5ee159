"""What the routes share: built once by the app's lifespan (app/main.py), then frozen. One typed field per
service; nothing in it is created later or replaced, so a route never falls back to a default of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.ratelimit import RateBuckets
from app.core.redaction import Redactor
from app.core.settings import Settings
from app.realtime.narrator.narrator import NarratorSettings
from app.realtime.voice_calls import VoiceCalls
from app.sessions.registry import Registry
from app.store.run_store import RunStore

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from app.sessions.model_lifecycle import ModelWatch
    from tools.code_execution import CodeSandbox


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings  # with its sections: settings.voice, settings.tools
    narrator: NarratorSettings  # the Realtime narrator's timings and voice
    store: RunStore
    registry: Registry  # SessionRegistry in one process; a gateway's RemoteRegistry (app/distributed)
    redactor: Redactor
    voice_calls: VoiceCalls  # WebRTC calls and relay sockets, counted per user
    session_buckets: RateBuckets  # POST /session, by user (rate_key)
    voice_call_buckets: RateBuckets  # new WebRTC calls, by user
    sandbox: CodeSandbox | None = None  # None on a gateway (workers run code), or when tests supply their own tools
    openai_client: AsyncOpenAI | None = None  # None without model access: the voice front and /session refuse
    realtime_connect: Callable[[], Any] | None = None  # how the narrator connects; None: the openai SDK's client
    model_watch: ModelWatch | None = None  # GET /v1/models at startup and every few hours (None without a key)
    live_workers: Callable[[float], Awaitable[int]] | None = None  # a gateway's count of live workers (/health)
    redis_outage: Callable[[], str | None] | None = None  # a gateway's: why Redis is unreachable now, or None
