"""`research-team`: the command line (typer). `serve` runs the server with our limits enforced by uvicorn itself.

Why not `uvicorn app.main:app`: uvicorn's own default buffers WebSocket frames up to 16 MiB before our 64 KiB
check sees them (30 clients x 15 MiB = 1 GB); `serve` sets `ws_max_size` to WS_MAX_FRAME_BYTES, so an oversized
frame is refused while it arrives, and adds the bind address to ALLOWED_HOSTS.
"""

from __future__ import annotations

import json
import os

import typer
import uvicorn

from app.settings import Settings

cli = typer.Typer(help="A research team you can talk to: the server and its tools.", no_args_is_help=True)
WILDCARD_BINDS = ("0.0.0.0", "::", "")


@cli.callback()
def main_options() -> None:
    """Settings come from the environment and .env (see .env.example)."""


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; 0.0.0.0 for every interface."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the server (one process: gateway and team sessions, SQLite unless DATABASE_URL says otherwise)."""
    settings = Settings()
    hosts = list(settings.allowed_hosts)
    if host not in WILDCARD_BINDS and host not in hosts:
        hosts.append(host)
    os.environ["ALLOWED_HOSTS"] = json.dumps(hosts)  # read by the app's Settings when uvicorn imports it
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        ws_max_size=settings.ws_max_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        h11_max_incomplete_event_size=64 * 1024,
        timeout_graceful_shutdown=10,
        log_config=None,
        server_header=False,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
