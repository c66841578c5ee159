"""The real app in its own process, with scripted team models, so a benchmark's clients do not share its CPU.

Run by `ServerProcess` (bench/server_process.py); by hand:
    .venv/bin/python -m bench.scripted_server --port 8765 --model-delay 0.05 [--openai-base-url URL]
It prints `READY <port>` once uvicorn listens. With --openai-base-url the realtime narrator talks to that
(fake) server; the team's models stay scripted (tests/support/scripted.py), each call answering after --model-delay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main import create_app  # noqa: E402
from tests.support.live_server import ScriptBook, make_settings  # noqa: E402
from tests.support.scripted import developer_tools, paris_script, research_tools  # noqa: E402


async def serve(port: int, delay: float, base_url: str | None, data_dir: Path) -> None:
    book = ScriptBook(lambda: paris_script(manager_delay=delay, researcher_delay=delay, runs=3))
    overrides = {"openai_base_url": base_url} if base_url else {}
    settings = make_settings(data_dir, log_level="WARNING", ws_rate_per_s=1000.0, ws_rate_burst=1000, **overrides)
    app = create_app(
        settings,
        model_clients=book,
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws_max_size=4 * 1024 * 1024
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit("uvicorn did not start")
        await asyncio.sleep(0.02)
    print(f"READY {server.servers[0].sockets[0].getsockname()[1]}", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model-delay", type=float, default=0.05)
    parser.add_argument("--openai-base-url")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.suppress(KeyboardInterrupt):
        # uvicorn shuts down gracefully on SIGINT, then re-raises it: that is the normal way out.
        asyncio.run(serve(args.port, args.model_delay, args.openai_base_url, args.data_dir or Path(tmp)))


if __name__ == "__main__":
    main()
