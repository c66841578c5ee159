"""GET/POST /session: a short-lived Realtime client secret for a browser that connects over WebRTC itself.

The standard API key stays on the server; only the ephemeral secret (ek_...) goes to the browser. Minting is
rate limited per user (app/api/deps.py rate_key): behind a proxy one user cannot lock everyone out, and no
X-Forwarded-For makes a fresh bucket.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from app.api.deps import ServicesDep, rate_key
from app.realtime.narrator.session_config import session_update

router = APIRouter()


async def mint_client_secret(request: Request, services: ServicesDep) -> dict[str, Any]:
    if not services.session_buckets.take(rate_key(request)):
        raise HTTPException(
            status_code=429, detail="Too many session requests; try again in a minute.", headers={"Retry-After": "60"}
        )
    openai_client = services.openai_client
    if openai_client is None:
        raise HTTPException(status_code=503, detail="No model is configured: set OPENAI_API_KEY on the server.")
    settings = services.settings
    session = session_update(voice=settings.realtime_voice, transcription_model=settings.realtime_transcription_model)[
        "session"
    ]
    session["model"] = settings.realtime_model
    started = time.monotonic()
    try:
        secret = await openai_client.realtime.client_secrets.create(
            session=session, expires_after={"anchor": "created_at", "seconds": 600}
        )
    except Exception as exc:
        raise HTTPException(status_code=502, detail=f"The realtime service refused: {type(exc).__name__}") from exc
    return {
        "client_secret": {"value": secret.value, "expires_at": secret.expires_at},
        "model": settings.realtime_model,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


router.add_api_route("/session", mint_client_secret, methods=["POST"], operation_id="mint_client_secret")
router.add_api_route(
    "/session", mint_client_secret, methods=["GET"], operation_id="mint_client_secret_get", include_in_schema=False
)
