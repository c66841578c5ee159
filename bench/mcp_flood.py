"""One user floods /mcp with `initialize` calls while another user is served (issue 22): how many MCP sessions
the server holds, its memory, and the other user's answer time.

Run: .venv/bin/python -m bench.mcp_flood [--calls 10000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.api.mcp_gate import McpGate  # noqa: E402
from tests.support.live_server import ScriptBook, live_app, scripted_app  # noqa: E402
from tests.support.mcp_client import ALICE, BOB, initialize  # noqa: E402
from tests.support.scripted import paris_script  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(calls: int, concurrency: int) -> None:
    app = scripted_app(Path(tempfile.mkdtemp()), ScriptBook(paris_script), app_users={"alice": ALICE, "bob": BOB})
    async with live_app(app) as server, httpx.AsyncClient(base_url=server.http_url, timeout=60) as http:
        before = rss_mb()
        statuses: dict[int, int] = {}
        bob_ms: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(calls):
            queue.put_nowait(i)

        async def flood() -> None:
            while not queue.empty():
                queue.get_nowait()
                status = (await initialize(http, ALICE)).status_code
                statuses[status] = statuses.get(status, 0) + 1

        async def bob() -> None:
            while not queue.empty():
                start = time.perf_counter()
                answer = await initialize(http, BOB)
                assert answer.status_code == 200, answer.text
                bob_ms.append((time.perf_counter() - start) * 1000)
                headers = {"Authorization": f"Bearer {BOB}", "mcp-session-id": answer.headers["mcp-session-id"]}
                await http.delete("/mcp", headers=headers)  # a well-behaved client ends its session
                await asyncio.sleep(0.2)

        start = time.perf_counter()
        await asyncio.gather(*(flood() for _ in range(concurrency)), bob())
        elapsed = time.perf_counter() - start
        team_mcp_gate = next(r.endpoint for r in app.router.routes if isinstance(r, Route) and r.path == "/mcp")
        assert isinstance(team_mcp_gate, McpGate)
        print(f"{calls} initialize calls from one user in {elapsed:.1f} s: {statuses}")
        print(f"MCP sessions held: alice {team_mcp_gate.sessions_of('alice')}, bob {team_mcp_gate.sessions_of('bob')}")
        print(f"server memory (this process): {before:.0f} MB before, {rss_mb():.0f} MB after")
        if bob_ms:
            print(
                f"the other user's initialize meanwhile: {len(bob_ms)} calls, all 200, p50 "
                f"{statistics.median(bob_ms):.1f} ms, max {max(bob_ms):.1f} ms"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.concurrency))
