"""`FakeOpenAI`: a local OpenAI look-alike (chat completions, realtime WebSocket, client secrets) served by
uvicorn on 127.0.0.1 (random free port) in a background thread with its own event loop.

    with FakeOpenAI() as fake:
        client = AsyncOpenAI(api_key="sk-test", base_url=fake.base_url)   # realtime: ws://127.0.0.1:PORT/v1/realtime
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import uvicorn

from tests.fakes.chat import ChatFake, ChatScript
from tests.fakes.common.waiting import apoll_until, poll_until
from tests.fakes.live.fake import LiveFake
from tests.fakes.live.session import LiveOptions
from tests.fakes.models import ModelCatalog
from tests.fakes.realtime.brain import Brain
from tests.fakes.realtime.client_secrets import ClientSecretsFake
from tests.fakes.realtime.fake import RealtimeFake
from tests.fakes.realtime.socket import ConnectionOptions
from tests.fakes.realtime.stream import StreamOptions
from tests.fakes.routes import FakeOpenAIRoutes
from tests.fakes.webrtc.calls import CallsFake
from tests.fakes.webrtc.live_calls import LiveCallsFake

__all__ = ["FakeOpenAI"]


class FakeOpenAI(FakeOpenAIRoutes):
    """The fake OpenAI server. Use as a (sync or async) context manager, or `start()`/`stop()`.

    Args:
        chat: the `ChatScript` for chat completions (default: an empty one, script it via `fake.chat.add`).
        brain: the realtime model (default `NarratorBrain()`), see `tests.fakes.realtime.brain`.
        api_key: when set, only this key (and keys minted by client_secrets) is accepted; default: any
            non-empty Bearer token.
        legacy_item_events: also (True) or only ("only") send `conversation.item.created`, like older servers.
        session_expiry_s: end each realtime session after this many seconds like the real 60-minute limit.
        delta_interval_s: pause between streamed deltas (default 2 ms).
        realistic_pacing: stream audio at about real time.
        ms_per_word: audio produced per spoken word (default 60 ms).
        audio_delta_ms: split each word's audio into deltas this long (default: one delta per word).
        audio_kind: "tone" or "silence" for the generated PCM16 audio.
        rate_limits: send `rate_limits.updated` after `response.done`.
        validate_server_events: check every server event against the SDK's `RealtimeServerEvent`.
        echo_response_metadata: False: `response.*` events carry no metadata, like some compatible servers.
        live_session_expiry_s: end each GPT-Live session (session.closed, reason expired) after this long.
        models: the served models (`tests.fakes.models.ModelCatalog`; default: OpenAI's as of today, so a
            shut-down model answers 404 `model_not_found` and reasoning models refuse what the real API refuses).
        extra_models: more model names served as plain chat models (an OpenAI-compatible server's own names).
        list_models: False: `GET /v1/models` answers 404, like compatible servers that do not serve it.
    """

    def __init__(
        self,
        *,
        chat: ChatScript | None = None,
        brain: Brain | None = None,
        api_key: str | None = None,
        legacy_item_events: bool | str = False,
        session_expiry_s: float | None = None,
        delta_interval_s: float = 0.002,
        realistic_pacing: bool = False,
        ms_per_word: int = 60,
        audio_delta_ms: int | None = None,
        audio_kind: str = "tone",
        rate_limits: bool = True,
        validate_server_events: bool = True,
        echo_response_metadata: bool = True,
        live_session_expiry_s: float | None = None,
        host: str = "127.0.0.1",
        models: ModelCatalog | None = None,
        extra_models: Sequence[str] = (),
        list_models: bool = True,
    ) -> None:
        self.api_key = api_key
        self.models = models or ModelCatalog(extra=extra_models, list_endpoint=list_models)
        """What exists today (`fake.models.retire("gpt-6-luna")`, `fake.models.today = date(...)`)."""
        self.host = host
        self.chat = ChatFake(chat, self.models)
        self.client_secrets = ClientSecretsFake()
        stream = StreamOptions(
            delta_interval_s=delta_interval_s,
            realistic_pacing=realistic_pacing,
            ms_per_word=ms_per_word,
            audio_delta_ms=audio_delta_ms,
            audio_kind=audio_kind,
            rate_limits=rate_limits,
            echo_metadata=echo_response_metadata,
        )
        self.realtime = RealtimeFake(
            brain,
            ConnectionOptions(
                legacy_item_events=legacy_item_events,
                session_expiry_s=session_expiry_s,
                validate_server_events=validate_server_events,
                stream=stream,
            ),
        )
        self.webrtc = CallsFake(self.realtime)
        """WebRTC calls (`POST /v1/realtime/calls`, aiortc on loopback) and their sideband sockets."""
        self.live = LiveFake(
            LiveOptions(
                ms_per_word=ms_per_word,
                delta_interval_s=delta_interval_s,
                realistic_pacing=realistic_pacing,
                session_expiry_s=live_session_expiry_s,
            )
        )
        self.live_webrtc = LiveCallsFake(self.live)
        """GPT-Live over WebRTC (`POST /v1/live/sessions` with an SDP offer) and its sideband attach."""
        self.model_listings = 0
        """How many times `GET /v1/models` was answered."""
        self.unhandled: list[tuple[str, str]] = []
        """(method, path) of requests to endpoints the fake does not implement (answered 404)."""
        self.auth_failures: list[tuple[str, str]] = []
        """(path, reason) of requests refused for a missing or wrong key."""
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._startup_error: BaseException | None = None
        self.app = self._build_app()

    # ---- addresses ----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`: give it to `OpenAI(base_url=...)` / `OPENAI_BASE_URL`."""
        if self.port is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def realtime_url(self) -> str:
        """`ws://127.0.0.1:PORT/v1/realtime` (what the SDK derives from `base_url`)."""
        return self.base_url.replace("http://", "ws://", 1) + "/realtime"

    def env(self, api_key: str = "sk-fake-test-key") -> dict[str, str]:
        """Environment for code that builds its own client: OPENAI_API_KEY and OPENAI_BASE_URL."""
        return {"OPENAI_API_KEY": api_key, "OPENAI_BASE_URL": self.base_url}

    def async_client(self, **kwargs: Any) -> Any:
        """An `openai.AsyncOpenAI` pointed at the fake (api_key "sk-test", max_retries 0 unless given)."""
        from openai import AsyncOpenAI

        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("max_retries", 0)
        return AsyncOpenAI(base_url=self.base_url, **kwargs)

    def sync_client(self, **kwargs: Any) -> Any:
        """An `openai.OpenAI` pointed at the fake (api_key "sk-test", max_retries 0 unless given)."""
        from openai import OpenAI

        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("max_retries", 0)
        return OpenAI(base_url=self.base_url, **kwargs)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> FakeOpenAI:
        """Serve on a free port in a background thread; returns when it accepts connections."""
        if self._thread is not None:
            return self
        config = uvicorn.Config(
            self._asgi,
            host=self.host,
            port=0,
            log_config=None,
            access_log=False,
            lifespan="off",
            interface="asgi3",
            ws="websockets-sansio",
            ws_max_size=32 * 1024 * 1024,
            ws_ping_interval=None,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="FakeOpenAI", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._startup_error is not None or not self._thread.is_alive():
                raise RuntimeError(f"FakeOpenAI failed to start: {self._startup_error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("FakeOpenAI did not start")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def _run(self) -> None:
        assert self._server is not None
        self._loop = asyncio.new_event_loop()
        self.realtime._loop = self._loop
        self.live._loop = self._loop
        try:
            self._loop.run_until_complete(self._server.serve())
        except BaseException as exc:  # surfaced by start()
            self._startup_error = exc
        finally:
            self.realtime._loop = None
            self.live._loop = None
            try:
                self._loop.run_until_complete(self._drain())
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            finally:
                self._loop.close()

    @staticmethod
    async def _drain() -> None:
        """Finish what uvicorn's shutdown left: cancel leftover tasks, let closing transports close."""
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)

    def stop(self, timeout: float = 10.0) -> None:
        """Close realtime sessions, stop the server and join its thread."""
        if self._server is None or self._thread is None:
            return
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout)
            except Exception:
                pass
        self._server.should_exit = True
        self._thread.join(timeout)
        self._thread = None
        self._server = None

    async def _close_all(self) -> None:
        with self.realtime._lock:
            conns = [c for c in self.realtime._connections if not c.closed]
        for conn in conns:
            await conn.close(1000, "fake server stopped")  # 1000: the SDK does not reconnect
        await self.webrtc.close_all()
        await self.live_webrtc.close_all()
        await self.live._close_all()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAI:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ---- checks -------------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Everything a clean test run must not have: rejected client events, protocol violations, server
        events the SDK could not parse, unscripted chat requests, errors inside the fake, unknown endpoints."""
        rt = self.realtime
        out = [f"rejected realtime event: {r.code}: {r.message} ({r.event!r:.200})" for r in rt.rejected]
        out += [f"violation: {v.kind}: {v.message}" for v in rt.violations]
        out += [f"invalid server event {e.get('type')}: {p}" for _, e, p in rt.invalid_server_events]
        out += [f"fake internal error: {e!r}" for _, e in rt.internal_errors]
        out += [f"unscripted chat request #{r.index} for role {r.role!r}" for r in self.chat.unscripted]
        out += [f"chat request with unknown parameter {p!r}" for _, p in self.chat.rejected]
        out += [f"chat request refused for model {b.get('model')!r}: {m}" for b, m in self.chat.refused]
        out += [f"unhandled endpoint {m} {p}" for m, p in self.unhandled]
        out += [f"rejected WebRTC call session: {p}" for p in self.webrtc.session_problems]
        out += [f"rejected Live WebRTC session: {p}" for p in self.live_webrtc.session_problems]
        out += self.live.problems()
        return out

    def assert_clean(self) -> None:
        """Raise AssertionError listing `problems()` if there are any."""
        problems = self.problems()
        assert not problems, "FakeOpenAI saw problems:\n" + "\n".join(problems)

    def wait_until(self, predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
        """Block until `predicate(fake)` holds."""
        poll_until(lambda: predicate(self), timeout, what)

    async def until(self, predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
        """Async `wait_until`."""
        await apoll_until(lambda: predicate(self), timeout, what)
