"""A worker process (`research-team worker`) whose team models are scripted (tests/support/scripted.py), so a benchmark
measures what the server costs, not a model. Run by bench/scale_load.py:
    REDIS_URL=... DATABASE_URL=... .venv/bin/python -m bench.scripted_worker --model-delay 0.05
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.settings import Settings  # noqa: E402
from app.distributed.worker.main import run_worker  # noqa: E402
from tests.support.live_server import ScriptBook  # noqa: E402
from tests.support.scripted import developer_tools, paris_script, research_tools  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-delay", type=float, default=0.05)
    args = parser.parse_args()
    delay = args.model_delay
    book = ScriptBook(lambda: paris_script(manager_delay=delay, researcher_delay=delay, runs=3))
    settings = Settings()
    uvloop.run(
        run_worker(
            settings,
            model_clients=book,
            researcher_tools=research_tools(),
            developer_tools=developer_tools,
            configure_logs=False,
            on_ready=lambda worker: print(f"READY {worker.worker_id}", flush=True),
        )
    )


if __name__ == "__main__":
    main()
