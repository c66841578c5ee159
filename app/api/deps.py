"""FastAPI dependencies shared by the routes: the app's services (and, with users, the caller)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from app.services import Services


def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


def current_user(connection: HTTPConnection) -> str:
    """The caller, as identified by the access guard (app/access.py): the local owner without users."""
    user = getattr(connection.state, "user", None)
    if not isinstance(user, str):
        raise HTTPException(status_code=401, detail="A valid token is required.")
    return user


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[str, Depends(current_user)]
