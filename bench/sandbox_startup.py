"""The cost of isolation: wall time of a trivial run (`print(1)`), before (the old local executor: a subprocess
with rlimits and Landlock, now CODE_EXECUTOR=unsafe-local) and after (bubblewrap, directly and through the
sandbox service over HTTP), plus what the budget does to the usual attacks. Prints figures.

    .venv/bin/python -m bench.sandbox_startup [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from autogen_core import CancellationToken

from bench.stats import percentiles
from sandbox.budget import SandboxBudget
from sandbox.runner import RunnerConfig, make_server
from tools.code_execution import CodeSandbox
from tools.config import ToolSettings

TRIVIAL = "print(1)"
ATTACKS = {
    "1,000 forks": (
        "import os, time\nmade = 0\nfor _ in range(1000):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(5); os._exit(0)\n    made += 1\n"
        "print(made, 'forks succeeded')"
    ),
    "4 x 700 MB children": (
        "import os\nkids = []\nfor _ in range(4):\n    try:\n        pid = os.fork()\n    except OSError:\n"
        "        break\n    if pid == 0:\n        try:\n"
        "            b = bytearray(700 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); os._exit(0)\n"
        "        except MemoryError:\n            os._exit(3)\n    kids.append(pid)\n"
        "codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in kids]\n"
        "print(len(kids), 'children started,', sum(700 for c in codes if c == 0), 'MB held by them')"
    ),
    "fill the disk": (
        "n = 0\ntry:\n    while n < 100_000:\n        with open(f'f{n % 50}', 'ab') as f:\n"
        "            f.write(b'x' * 1048576)\n        n += 1\nexcept OSError as e:\n    print(type(e).__name__)\n"
        "print(n, 'MB written')"
    ),
    "setsid + double fork, parent ends at 0.3 s": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
        "    os._exit(0)\ntime.sleep(0.3)\nprint('parent done')"
    ),
}


async def time_one(box: CodeSandbox, session: str) -> float:
    tool = box.tool_for(session)
    started = time.perf_counter()
    result = tool.return_value_as_string(await tool.run_json({"code": TRIVIAL}, CancellationToken()))
    assert result.endswith("Output:\n1"), result
    return (time.perf_counter() - started) * 1000


async def attack(box: CodeSandbox, name: str, code: str) -> str:
    tool = box.tool_for(f"attack-{name}")
    worst = 0.0
    running = True

    async def lag() -> None:
        nonlocal worst
        while running:
            before = time.monotonic()
            await asyncio.sleep(0.05)
            worst = max(worst, time.monotonic() - before - 0.05)

    ticker = asyncio.ensure_future(lag())
    started = time.monotonic()
    result = tool.return_value_as_string(await tool.run_json({"code": code}, CancellationToken()))
    took = time.monotonic() - started
    running = False
    await ticker
    last = result.strip().splitlines()[-1]
    return f"{last}; run returned in {took:.2f} s; event loop worst delay {worst * 1000:.0f} ms"


async def main(runs: int) -> None:
    budget = SandboxBudget(timeout_s=10.0)
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    common = {
        "code_scratch_root": root,
        "code_timeout_s": budget.timeout_s,
        "code_memory_mb": budget.memory_mb,
        "code_max_processes": budget.max_processes,
        "code_disk_mb": budget.disk_mb,
    }
    server = make_server("127.0.0.1", 0, RunnerConfig(scratch_root=root / "service", budget=budget))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    boxes = {
        "before: unsafe-local (rlimits + Landlock)": ToolSettings(
            _env_file=None,
            code_executor="unsafe-local",
            **common,  # type: ignore[arg-type]
        ),
        "after: bubblewrap": ToolSettings(_env_file=None, code_executor="bubblewrap", **common),  # type: ignore[arg-type]
        "after: sandbox service (HTTP + bubblewrap)": ToolSettings(
            _env_file=None,
            code_executor="sandbox",
            sandbox_url=f"http://127.0.0.1:{server.server_address[1]}",
            **common,  # type: ignore[arg-type]
        ),
    }
    print(f"{os.cpu_count()} cores; {runs} runs of {TRIVIAL!r} per executor, one session each, interleaved")
    started = {label: CodeSandbox.from_settings(settings) for label, settings in boxes.items()}
    try:
        for box in started.values():
            await box.start()
            await time_one(box, "bench")  # warm-up: imports, the session's first archive
        times: dict[str, list[float]] = {label: [] for label in started}
        for _ in range(runs):  # interleaved, so a noisy moment on this shared machine hits every executor alike
            for label, box in started.items():
                times[label].append(await time_one(box, "bench"))
        for label, values in times.items():
            print(f"{label:45} {percentiles(values)}")
        box = started["after: bubblewrap"]
        print(f"isolation: {box.isolation.detail}")
        for name, code in ATTACKS.items():
            print(f"attack {name}: {await attack(box, name, code)}")
    finally:
        for box in started.values():
            await box.stop()
        server.shutdown()
        server.server_close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args().runs))
