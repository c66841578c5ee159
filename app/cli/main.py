"""`research-team`: the command line (typer). `serve` runs the server with our limits enforced by uvicorn itself;
`ask` and `runs` are its terminal clients (app/cli/ask.py); `users` manages users and their tokens.

Why not `uvicorn app.main:app`: uvicorn's own default buffers WebSocket frames up to 16 MiB before our 64 KiB
check sees them (30 clients x 15 MiB = 1 GB); `serve` sets `ws_max_size` to WS_MAX_FRAME_BYTES, so an oversized
frame is refused while it arrives, and adds the bind address to ALLOWED_HOSTS. It also turns off uvicorn's
proxy_headers: uvicorn would believe X-Forwarded-For from 127.0.0.1 (FORWARDED_ALLOW_IPS) and rewrite the client
address before the app could check the real peer against TRUSTED_PROXIES; the app does that itself
(app/core/peer.py, app/sessions/access.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape

from app.cli.ask import AskFailed, AskResult, print_answer
from app.cli.ask import ask as ask_team
from app.cli.eval import eval_command
from app.cli.local_server import (
    DEFAULT_URL,
    ServerDidNotStart,
    command_logs,
    default_server_running,
    local_server,
    uvicorn_options,
)
from app.cli.runs import fetch_run, fetch_runs, print_run, runs_table
from app.cli.users import users_cli
from app.core.settings import Settings
from app.distributed.bus import RedisUnreachable, open_redis
from app.distributed.signing import ClusterSecretError, check_secret
from app.distributed.supervisor import WorkerSupervisor

T = TypeVar("T")

cli = typer.Typer(help="A research team you can talk to: the server and its tools.", no_args_is_help=True)
WILDCARD_BINDS = ("0.0.0.0", "::", "")


@cli.callback()
def main_options() -> None:
    """Settings come from the environment and .env (see .env.example)."""


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; 0.0.0.0 for every interface."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        0, min=0, max=64, help="Start this many worker processes beside the gateway (needs REDIS_URL)."
    ),
) -> None:
    """Run the server: one process with everything (SQLite unless DATABASE_URL says otherwise), or with
    REDIS_URL a gateway whose sessions live on workers (`research-team worker`, or --workers N here)."""
    settings = Settings()
    listening = _listen(host, port)  # before anything starts: a busy port is said plainly, not after "ready"
    if workers and not settings.redis_url:
        typer.echo("--workers needs REDIS_URL (and a PostgreSQL DATABASE_URL every process can reach).", err=True)
        raise typer.Exit(2)
    if settings.redis_url:
        settings = _cluster_ready(settings, workers)
    supervisor = WorkerSupervisor(workers) if workers else None
    if supervisor is not None:
        supervisor.start()
    hosts = list(settings.allowed_hosts)
    if host not in WILDCARD_BINDS and host not in hosts:
        hosts.append(host)
    os.environ["ALLOWED_HOSTS"] = json.dumps(hosts)  # read by the app's Settings when uvicorn imports it
    server = BannerServer(uvicorn.Config("app.main:app", **uvicorn_options(settings, host=host, port=port)))
    server.url = f"http://{_shown_host(host)}:{port}"
    server.run(sockets=[listening])
    if supervisor is not None:
        supervisor.stop()


class BannerServer(uvicorn.Server):
    """uvicorn's server, which prints the start-up banner (app/cli/banner.py) on a terminal once the app is ready."""

    url = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not sys.stderr.isatty():
            return
        import app.main
        from app.cli.banner import banner_lines, render

        state = app.main.app.state
        lines = banner_lines(state.services, state.users.enabled)
        sys.stderr.write(render(self.url, lines, colour=not os.environ.get("NO_COLOR")) + "\n")
        sys.stderr.flush()


def _shown_host(host: str) -> str:
    if host in WILDCARD_BINDS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound the way uvicorn binds it; exit 2 with what to do when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {port} on {host} is already in use (another `research-team serve`?)"
            hint = f"Stop that program, or pick another port: research-team serve --port {port + 1}"
        else:
            reason, hint = f"cannot listen on {host}:{port}: {exc.strerror or exc}", "Check --host and --port."
        typer.echo(f"Not started: {reason}.\n{hint}", err=True)
        raise typer.Exit(2) from None
    sock.set_inheritable(True)
    return sock


def _cluster_ready(settings: Settings, workers: int) -> Settings:
    """A gateway's CLUSTER_SECRET (made up for its own workers when it starts them and none is set) and Redis,
    checked before the server starts: a clear message and exit 2 rather than a failed startup's traceback."""
    if workers and settings.cluster_secret is None:
        os.environ["CLUSTER_SECRET"] = secrets.token_hex(32)  # the gateway (uvicorn's import) and its children
        typer.echo(f"CLUSTER_SECRET was not set: made one for this gateway and its {workers} workers.", err=True)
        settings = Settings()
    try:
        check_secret(settings.cluster_secret_value())
        asyncio.run(_ping_redis(settings.redis_url or ""))
    except (ClusterSecretError, RedisUnreachable) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    return settings


async def _ping_redis(url: str) -> None:
    client = await open_redis(url)
    await client.aclose()


@cli.command()
def worker() -> None:
    """Run a worker: hosts team sessions for the gateways (needs REDIS_URL and a shared DATABASE_URL)."""
    import uvloop  # the event loop uvicorn runs the gateway on (uvicorn[standard]); faster than asyncio's own

    from app.distributed.worker.main import run_worker

    uvloop.run(run_worker(Settings()))


cli.add_typer(users_cli, name="users")  # app/cli/users.py


SERVER_OPTION = typer.Option(
    None,
    "--url",
    envvar="RESEARCH_TEAM_URL",
    help="The server (its base URL). Default: the one `serve` starts on 127.0.0.1:8000 if it runs, else the team "
    "runs in this process with the same settings and store.",
    show_default=False,
)
TOKEN_OPTION = typer.Option(
    None, "--token", envvar="RESEARCH_TEAM_TOKEN", help="A user's token (default: APP_TOKEN from .env, if set)."
)


@contextlib.asynccontextmanager
async def server_for(url: str | None, notes: Console | None = None) -> AsyncIterator[str]:
    """The server to talk to: --url (or RESEARCH_TEAM_URL), else `serve`'s default address when a server answers
    there, else the app started in this process (app/cli/local_server.py: same settings, same store)."""
    if url:
        yield url.rstrip("/")
        return
    if await default_server_running():
        yield DEFAULT_URL
        return
    if notes is not None:
        notes.print(f"[dim]No server at {DEFAULT_URL}: the team runs in this process.[/dim]", highlight=False)
    settings = Settings()
    command_logs(settings)
    try:
        async with local_server(settings) as base_url:
            yield base_url
    except ServerDidNotStart as exc:
        raise AskFailed(str(exc)) from None


def _fetched(fetch: Callable[[str], Awaitable[T]], url: str | None) -> T:
    """What `fetch(base_url)` reads from the server `--url` names (or the local one); exit 2 saying why not."""

    async def run() -> T:
        async with server_for(url) as base_url:
            return await fetch(base_url)

    try:
        return asyncio.run(run())
    except AskFailed as exc:
        Console(stderr=True).print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None


def _token(token: str | None) -> str | None:
    if token:
        return token
    app_token = Settings().app_token
    return app_token.get_secret_value() if app_token is not None and app_token.get_secret_value() else None


@cli.command()
def ask(
    question: str = typer.Argument(..., help="What to ask the team."),
    url: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print only the result as JSON (for scripts)."),
) -> None:
    """Ask the team a question: its steps as they happen, then the answer with its sources."""
    console, errors = Console(), Console(stderr=True)

    async def run() -> AskResult:
        async with server_for(url, errors if not as_json else None) as base_url:
            if as_json:
                return await ask_team(base_url, _token(token), question)
            with errors.status("The team is working…"):
                return await ask_team(
                    base_url, _token(token), question, on_step=lambda line: console.print(f"• {escape(line)}")
                )

    try:
        result = asyncio.run(run())
    except AskFailed as exc:
        if as_json:
            typer.echo(json.dumps({"error": str(exc)}))
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print_answer(console, result)
    if not result.complete:
        raise typer.Exit(1)


runs_cli = typer.Typer(help="Your runs: the latest (full ids, cost), or one with `runs show ID`.")
cli.add_typer(runs_cli, name="runs")


@runs_cli.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    url: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    limit: int = typer.Option(20, min=1, max=500, help="How many of the latest runs."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
) -> None:
    """Your latest runs on the server: full ids (for `runs show ID`), status, calls, tokens, cost."""
    if ctx.invoked_subcommand is not None:
        return
    found = _fetched(lambda base_url: fetch_runs(base_url, _token(token), limit), url)
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False))
    else:
        Console().print(runs_table(found))


@runs_cli.command("show")
def runs_show(
    run_id: str = typer.Argument(..., help="A run id, as `runs` lists them."),
    url: str | None = SERVER_OPTION,
    token: str | None = TOKEN_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the run and its events as JSON."),
) -> None:
    """One of your runs: the question, its steps, the answer with its sources, usage and cost."""
    run = _fetched(lambda base_url: fetch_run(base_url, _token(token), run_id), url)
    if as_json:
        typer.echo(json.dumps(run, ensure_ascii=False))
    else:
        print_run(Console(), run)


@cli.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON (for scripts)."),
) -> None:
    """Check everything before the first question: the key, each role's model (exists, shutdown date, answers a
    strict tool call), the narrator, code isolation, the database and Redis. Exit 1 on any failure."""
    import logging

    from app.cli.doctor import as_json as findings_json
    from app.cli.doctor import diagnose, exit_code, render

    logging.disable(logging.WARNING)  # the findings say it all; library warnings would repeat them
    findings = asyncio.run(diagnose(Settings()))
    if as_json:
        typer.echo(findings_json(findings))
    else:
        console = Console()
        for line in render(findings):
            console.print(escape(line), highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code(findings))


@cli.command("export-team")
def export_team_command(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """The team as an AutoGen component JSON (agents, tools, routing as data); loads back with
    agents.team.export.load_team. No API key is written."""
    from app.cli.export import export_team

    text = json.dumps(asyncio.run(export_team(Settings())), indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"Team written to {output}.", err=True)


cli.command("eval")(eval_command)  # app/cli/eval.py


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
