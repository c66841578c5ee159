"""FastAPI dependencies shared by the routes: the app's services (and, with users, the caller)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from app.services import Services


def services_of(app: Any) -> Services:
    """The services the lifespan built (app/main.py): the one place that reads them off the app."""
    services: Services = app.state.services
    return services


def get_services(connection: HTTPConnection) -> Services:
    return services_of(connection.app)


def current_user(connection: HTTPConnection) -> str:
    """The caller, as identified by the access guard (app/sessions/access.py): the local owner without users."""
    user = getattr(connection.state, "user", None)
    if not isinstance(user, str):
        raise HTTPException(status_code=401, detail="A valid token is required.")
    return user


def rate_key(connection: HTTPConnection) -> str:
    """What a rate limit counts by: the user; the client address only for anonymous requests (the real peer,
    or the address a trusted proxy forwarded: app/sessions/access.py sets it). Behind one proxy, users never share a
    bucket, and no header makes a new one."""
    user = getattr(connection.state, "user", None)
    if isinstance(user, str):
        return f"user:{user}"
    return f"addr:{connection.client.host if connection.client else 'unknown'}"


async def _services(connection: HTTPConnection) -> Services:
    return get_services(connection)


async def _user(connection: HTTPConnection) -> str:
    return current_user(connection)


# Async, so FastAPI calls them on the event loop: a plain `def` dependency costs a thread-pool hand-off per
# connection (two per WebSocket), for work that never blocks.
ServicesDep = Annotated[Services, Depends(_services)]
UserDep = Annotated[str, Depends(_user)]
