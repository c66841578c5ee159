"""What the routes share, built by the app's lifespan (app/main.py): one typed field per service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.core.ratelimit import RateBuckets
from app.core.redaction import Redactor
from app.core.settings import Settings
from app.sessions.registry import Registry
from app.store.run_store import RunStore

if TYPE_CHECKING:
    from openai import AsyncOpenAI

    from app.realtime.config import VoiceSettings
    from app.realtime.narrator.narrator import NarratorSettings
    from app.realtime.voice_calls import VoiceCalls
    from app.sessions.model_lifecycle import ModelWatch
    from tools.code_execution import CodeSandbox


@dataclass
class Services:
    settings: Settings
    store: RunStore
    registry: Registry  # SessionRegistry in one process; a gateway's RemoteRegistry (app/distributed)
    redactor: Redactor
    sandbox: CodeSandbox | None = None  # None when tests supply their own Developer tools
    openai_client: AsyncOpenAI | None = None  # None without model access: the voice front and /session refuse
    realtime_connect: Callable[[], Any] | None = None  # tests may replace how the narrator connects
    voice_settings: VoiceSettings | None = None  # None: read from the environment (tests set their own)
    narrator_settings: NarratorSettings | None = None  # None: built from settings
    voice_calls: VoiceCalls | None = None  # the WebRTC calls, made on first use
    model_watch: ModelWatch | None = None  # GET /v1/models at startup and every few hours (None without a key)
    live_workers: Callable[[float], Awaitable[int]] | None = None  # a gateway's count of live workers (/health)
    session_buckets: RateBuckets = field(default_factory=lambda: RateBuckets(per_min=10))  # /session by user (rate_key)
    voice_call_buckets: RateBuckets = field(default_factory=lambda: RateBuckets(per_min=10))  # calls by user
