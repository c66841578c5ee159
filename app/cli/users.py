"""`research-team users`: users and their tokens (app/store/users.py), and what each change means for a running server:
the first user closes it to anonymous use, the runs made before can be handed to a user, and removing the last
user opens it again. A running server learns of each change from the store within a second (UserDirectory)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from app.core.settings import Settings
from app.store.run_store import RunStore
from app.store.users import add_user, adopt_local_runs, count_users, list_users, remove_user

T = TypeVar("T")

users_cli = typer.Typer(help="Users and their tokens (stored as hashes in the run store of DATABASE_URL).")


def _with_store(action: Callable[[RunStore], Awaitable[T]]) -> T:
    async def run() -> T:
        store = RunStore(Settings().database_url)
        await store.start()
        try:
            return await action(store)
        finally:
            await store.stop()

    return asyncio.run(run())


@users_cli.command("add")
def users_add(
    name: str = typer.Argument(..., help="Letters, digits and _.@- (at most 64)."),
    take_local_runs: bool = typer.Option(
        False, "--take-local-runs", help="Give this user the runs made while the server had no users."
    ),
) -> None:
    """Create a user and print its token: shown once, only its hash is kept."""

    async def add(store: RunStore) -> tuple[str, int, int]:
        before = await count_users(store)
        token = await add_user(store, name)
        return token, before, await adopt_local_runs(store, name) if take_local_runs else 0

    try:
        token, before, adopted = _with_store(add)
    except (ValueError, IntegrityError) as exc:
        reason = "that name is taken" if isinstance(exc, IntegrityError) else str(exc).rstrip(".")
        typer.echo(f"Not added: {reason}.", err=True)
        raise typer.Exit(1) from None
    typer.echo(token)

    def say(text: str) -> None:
        typer.echo(text, err=True)

    say(f"User {name!r} added. Give them this token; it is not stored and cannot be shown again.")
    if before == 0 and not _configured_users():
        say(
            "What changed: this server now needs a token for everything but the page itself (a running server "
            "too, within a second, no restart). The page asks for it; `research-team ask --token …`, "
            "RESEARCH_TEAM_TOKEN and MCP's 'Authorization: Bearer …' send it."
        )
    if take_local_runs:
        say(f"{name!r} now owns the {adopted} run(s) made while the server had no users.")
    elif before == 0:
        say(
            "The runs made before belong to the server's former single owner ('local'), whom no token reaches; "
            f"to give them to {name!r}: research-team users adopt {name}"
        )


@users_cli.command("adopt")
def users_adopt(name: str = typer.Argument(..., help="The user who gets the runs.")) -> None:
    """Give a user the runs made while the server had no users (owned by 'local', reachable by no token)."""
    try:
        adopted = _with_store(lambda store: adopt_local_runs(store, name))
    except ValueError as exc:
        typer.echo(f"Not done: {exc}.", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{name!r} now owns {adopted} run(s) made while the server had no users.")


def _configured_users() -> bool:
    """Users that do not come from the store: APP_USERS, APP_TOKEN, or an SSO proxy's header."""
    settings = Settings()
    return bool(settings.static_users() or settings.auth_trusted_header)


@users_cli.command("list")
def users_list() -> None:
    """The stored users (APP_USERS and APP_TOKEN come from the environment and are not listed)."""
    table = Table("user", "created")
    for name, created in _with_store(list_users):
        table.add_row(name, created)
    Console().print(table)


@users_cli.command("remove")
def users_remove(name: str) -> None:
    """Remove a user: their token stops working at once (their runs stay, unreachable to others)."""

    async def remove(store: RunStore) -> tuple[bool, int]:
        return await remove_user(store, name), await count_users(store)

    removed, left = _with_store(remove)
    if not removed:
        typer.echo(f"No stored user {name!r}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"User {name!r} removed.")
    if left == 0 and not _configured_users():
        typer.echo(
            "No users left: the server is open again to anyone who can reach it, without a token (a running "
            "server too, within a second).",
            err=True,
        )
