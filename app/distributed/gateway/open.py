"""Starting a gateway's side of Redis (for app/main.py's lifespan when REDIS_URL is set)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from app.core.redaction import Redactor
from app.core.settings import Settings
from app.distributed.bus import new_process_id, open_redis
from app.distributed.gateway.bus import GatewayBus
from app.distributed.gateway.registry import RemoteRegistry
from app.distributed.signing import BusSigner
from app.store.run_store import RunStore


async def open_gateway(
    stack: AsyncExitStack, settings: Settings, store: RunStore, redactor: Redactor
) -> RemoteRegistry:
    """The gateway's registry, its bus started; both stop with `stack`."""
    assert settings.redis_url is not None
    signer = BusSigner(settings.cluster_secret_value())  # first: a missing secret is said before anything else
    redis = await open_redis(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    bus = GatewayBus(redis, new_process_id("gateway"), signer, command_timeout_s=settings.command_timeout_s)
    await bus.start()
    stack.push_async_callback(bus.stop)
    return RemoteRegistry(
        store,
        redactor,
        bus,
        model_access=settings.has_model_access,
        max_sessions=settings.max_sessions,
        max_per_user=settings.max_sessions_per_user,
    )
