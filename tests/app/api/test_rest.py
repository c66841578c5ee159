"""REST endpoints: health, runs, events, the published protocol schema."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.core.protocol import CLIENT_MESSAGE
from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.scripted import paris_script


async def test_rest_endpoints(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(lambda: paris_script(runs=2)))) as server:
        client = await server.connect()
        session_id = (await client.recv())["data"]["session_id"]
        for _ in range(2):
            await client.send({"type": "task", "text": "Weather in Paris?"})
            await client.until(lambda e: e["type"] == "run_finished")
        await client.close()
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            health = (await http.get("/health")).json()
            models = health.pop("models")  # the scripted app's base URL is a closed port: the list is unreachable
            assert models["listing"] == "unreachable" and {m["status"] for m in models["models"]} == {"unchecked"}
            assert health == {
                "status": "ok",
                "database": "ok",
                "database_backend": "sqlite",
                "model_access": True,
                "sessions": 1,
                "role": "embedded",
            }
            runs = (await http.get("/runs", params={"session_id": session_id})).json()["runs"]
            assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)
            assert runs[0]["created_at"] >= runs[1]["created_at"]  # newest first
            page = (await http.get("/runs", params={"limit": 1, "offset": 1})).json()
            assert [r["run_id"] for r in page["runs"]] == [runs[1]["run_id"]]
            assert (await http.get("/runs", params={"limit": 0})).status_code == 422
            missing = await http.get("/runs/run_doesnotexist")
            assert missing.status_code == 404 and "run_doesnotexist" in missing.json()["detail"]
            assert (await http.get("/runs/run_doesnotexist/events")).status_code == 404
            events = (await http.get(f"/runs/{runs[1]['run_id']}/events", params={"after": 3})).json()["events"]
            assert events and all(e["seq"] > 3 for e in events)
            schema = (await http.get("/protocol.json")).json()
            assert schema["client_to_server"] == CLIENT_MESSAGE.json_schema()
            assert "rate_limited" in schema["error_codes"]
            openapi = (await http.get("/openapi.json")).json()
            assert "/runs/{run_id}/events" in openapi["paths"]
