"""Test doubles for the narrator's parts: a TeamControl without AutoGen, and an in-memory voice socket whose
sends are validated with the openai SDK's own client-event types (Realtime or GPT-Live) and can be made to fail
the way a real socket does (the websockets library's ConnectionClosed); and Harness, the real narrator and team
session on an in-memory Realtime connection (MemoryConnection)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from openai.types.live import ClientEvent as LiveClientEvent
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from agents.events import ErrorCode
from agents.session.team_session import SessionCommandError, SessionLimits, TeamSession
from agents.team.build import build_team
from app.core.redaction import Redactor
from app.realtime.narrator.narrator import Narrator, NarratorSettings
from app.store.event_log import SessionEventLog
from app.store.run_store import RunStore
from tests.support.scripted import Script, developer_tools, paris_script, research_tools

REALTIME_EVENT = TypeAdapter(RealtimeClientEvent)
LIVE_EVENT = TypeAdapter(LiveClientEvent)

FAST = NarratorSettings(reconnect_delays_s=(0.01,), max_progress_updates=0, response_backoff_s=0.01)
"""A narrator that reconnects and retries at once and gives no progress updates (the parts' tests)."""


def connection_closed() -> ConnectionClosedError:
    return ConnectionClosedError(None, Close(1011, "gone"), None)


class FakeTeam:
    """TeamControl for unit tests: records commands; `hold` makes submit_task wait (a slow store commit)."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.state = "idle"
        self.tasks: list[str] = []
        self.commands: list[str] = []
        self.hold: asyncio.Event | None = None

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "run_id": self.run_id, "task": self.tasks[-1] if self.run_id else None}

    async def submit_task(self, text: str) -> dict[str, Any]:
        if self.hold is not None:
            await self.hold.wait()
        self.tasks.append(text)
        if self.run_id is not None:
            return {"status": "queued", "run_id": self.run_id, "position": 1}
        self.run_id, self.state = f"run_{len(self.tasks)}", "running"
        return {"status": "started", "run_id": self.run_id}

    async def _command(self, name: str, allowed: str, new_state: str) -> dict[str, Any]:
        self.commands.append(name)
        if self.state != allowed:
            raise SessionCommandError(ErrorCode.NO_ACTIVE_RUN, f"There is no run to {name}.")
        self.state = new_state
        return {"status": new_state, "run_id": self.run_id}

    async def pause(self) -> dict[str, Any]:
        return await self._command("pause", "running", "paused")

    async def resume(self) -> dict[str, Any]:
        return await self._command("resume", "paused", "running")

    async def cancel(self) -> dict[str, Any]:
        self.commands.append("cancel")
        if self.run_id is None:
            raise SessionCommandError(ErrorCode.NO_ACTIVE_RUN, "There is no run to cancel.")
        self.state = "cancelled"
        return {"status": "cancelled", "run_id": self.run_id}


class MemorySocket:
    """One connection: send() validates and records, recv_bytes() reads what the test (or auto-replies) put in."""

    def __init__(self, adapter: TypeAdapter[Any], replies: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        self.adapter = adapter
        self.replies = replies
        self.sent: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.changed = asyncio.Event()
        self.fail_when: Callable[[dict[str, Any]], bool] | None = None
        self.closed = False

    async def send(self, event: dict[str, Any]) -> None:
        if self.closed:
            raise connection_closed()
        if self.fail_when is not None and self.fail_when(event):
            self.fail_when = None
            await self.close()
            raise connection_closed()
        self.adapter.validate_python(event)
        self.sent.append(event)
        self.changed.set()
        for reply in self.replies(event):
            self.incoming.put_nowait(reply)

    async def recv_bytes(self) -> bytes:
        event = await self.incoming.get()
        if event is None:
            raise connection_closed()
        return json.dumps(event).encode()

    async def close(self) -> None:
        self.closed = True
        self.incoming.put_nowait(None)

    def push(self, event: dict[str, Any]) -> None:
        self.incoming.put_nowait(event)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.sent if e["type"] == kind]

    async def wait_sent(self, predicate: Callable[[dict[str, Any]], object], timeout: float = 3.0) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            while True:
                for event in self.sent:
                    if predicate(event):
                        return event
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), timeout)


def realtime_replies(event: dict[str, Any]) -> list[dict[str, Any]]:
    if event["type"] == "session.update":
        return [{"type": "session.updated", "session": event["session"]}]
    return []


def live_replies(event: dict[str, Any]) -> list[dict[str, Any]]:
    if event["type"] == "session.start":
        return [{"type": "session.started", "event_id": "ev_s", "session": {"id": "sess_1", **event["session"]}}]
    if event["type"] == "session.commentary.append":
        return [
            {
                "type": "session.commentary.appended",
                "event_id": "ev_c",
                "start_ms": 0,
                "end_ms": 0,
                "client_event_id": event.get("event_id"),
            }
        ]
    return []


class Sockets:
    """The `connect` factory for a narrator: each call opens a new MemorySocket."""

    def __init__(self, live: bool = False) -> None:
        self.live = live
        self.opened: list[MemorySocket] = []
        self.opened_signal = asyncio.Event()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MemorySocket]:
        sock = MemorySocket(LIVE_EVENT, live_replies) if self.live else MemorySocket(REALTIME_EVENT, realtime_replies)
        self.opened.append(sock)
        self.opened_signal.set()
        yield sock

    @property
    def current(self) -> MemorySocket:
        return self.opened[-1]

    async def wait_opened(self, count: int, timeout: float = 3.0) -> MemorySocket:
        async def wait() -> None:
            while len(self.opened) < count:
                self.opened_signal.clear()
                await self.opened_signal.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.opened[count - 1]


# ---- the whole narrator on an in-memory Realtime connection ----------------------------------------------
UNIT_SECRET = "sk-" + "unit-test-secret-0001"  # built at runtime: no key-shaped literal in the repo


class MemoryConnection:
    """Stands in for the SDK's AsyncRealtimeConnection: send() validates, recv_bytes() reads a queue."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.sent_signal = asyncio.Event()

    async def send(self, event: dict[str, Any]) -> None:
        REALTIME_EVENT.validate_python(event)
        self.sent.append(event)
        self.sent_signal.set()
        if event["type"] == "session.update":  # the server confirms, as the real one does
            self.incoming.put_nowait({"type": "session.updated", "session": event["session"]})

    async def recv_bytes(self) -> bytes:
        event = await self.incoming.get()
        if event is None:
            raise ConnectionError("closed")
        return json.dumps(event).encode()

    async def close(self) -> None:
        self.incoming.put_nowait(None)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.sent if e["type"] == kind]

    async def wait_sent(self, predicate: Callable[[dict[str, Any]], object], timeout: float = 5.0) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            while True:
                for event in self.sent:
                    if predicate(event):
                        return event
                self.sent_signal.clear()
                await self.sent_signal.wait()

        return await asyncio.wait_for(scan(), timeout)


class Harness:
    """The real Narrator and TeamSession (scripted models, SQLite store) on MemoryConnections: `server(event)`
    plays the Realtime server, `conn` is the current connection."""

    def __init__(self, tmp_path: Path, script: Script | None = None, **narrator: Any) -> None:
        self.tmp_path = tmp_path
        self.narrator_options = narrator
        self.script = script or paris_script(researcher_delay=0.05)
        self.connections: list[MemoryConnection] = []
        self.browser: list[Any] = []

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MemoryConnection]:
        conn = MemoryConnection()
        self.connections.append(conn)
        yield conn

    @property
    def conn(self) -> MemoryConnection:
        return self.connections[-1]

    async def __aenter__(self) -> Harness:
        self.store = RunStore(f"sqlite+aiosqlite:///{self.tmp_path / 'n.db'}")
        await self.store.start()
        self.log = SessionEventLog("s_narrator_unit", self.store, Redactor())
        clients, self.raw = self.script.clients()
        self.team = TeamSession(
            "s_narrator_unit",
            factory=lambda: build_team(
                clients, researcher_tools=research_tools(), developer_tools=developer_tools("s")
            ),
            meter=clients.meter,
            emit=self.log.publish,
            limits=SessionLimits(cancel_grace_s=0.3),
        )
        self.narrator = Narrator(
            connect=self.connect,
            team=self.team,
            team_log=self.log,
            to_browser=self.browser.append,
            redactor=Redactor([UNIT_SECRET]),
            settings=NarratorSettings(reconnect_delays_s=(0.01,), response_backoff_s=0.01, **self.narrator_options),
        )
        await self.narrator.start()
        await self.narrator.wait_connected()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.narrator.close()
        await self.team.close()
        await self.store.stop()

    async def server(self, event: dict[str, Any]) -> None:
        await self.narrator.receive(event)
        item = event.get("item") or {}
        answered = event["type"] == "response.output_item.done" or item.get("status") == "completed"
        if item.get("type") == "function_call" and answered:  # tools run off the reader: wait for the output
            await self.conn.wait_sent(
                lambda e: e["type"] == "conversation.item.create" and e["item"].get("call_id") == item["call_id"]
            )

    async def finish_response(
        self, status: str = "completed", output: list[dict[str, Any]] | None = None, error: dict[str, Any] | None = None
    ) -> None:
        """The server answers the response.create currently in flight."""
        create = self.conn.of_type("response.create")[-1]
        response = {
            "id": f"resp_{len(self.conn.sent)}",
            "object": "realtime.response",
            "status": status,
            "metadata": create["response"]["metadata"],
            "output": output or [],
        }
        if error:
            response["status_details"] = {"type": "failed", "error": error}
        await self.server({"type": "response.created", "response": {**response, "status": "in_progress"}})
        await self.server({"type": "response.done", "response": response})


def function_call(name: str, arguments: dict[str, Any] | str, call_id: str = "call_1") -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "type": "response.output_item.done",
        "response_id": "resp_x",
        "output_index": 0,
        "item": {
            "id": f"item_{call_id}",
            "type": "function_call",
            "status": "completed",
            "name": name,
            "call_id": call_id,
            "arguments": args,
        },
    }


def outputs(conn: MemoryConnection) -> dict[str, dict[str, Any]]:
    return {
        e["item"]["call_id"]: json.loads(e["item"]["output"])
        for e in conn.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    }
