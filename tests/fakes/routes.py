"""The fake's HTTP and WebSocket endpoints: Bearer auth (the API key or a minted client secret), chat completions,
models, client secrets, WebRTC calls, and the Realtime and GPT-Live sockets, each handed to its protocol's fake.
FakeOpenAI (server.py) builds on it and runs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.fakes.chat import ChatFake
from tests.fakes.common.auth import bearer_token, unauthorized_body
from tests.fakes.live.fake import LiveFake
from tests.fakes.live.session import LiveConnection
from tests.fakes.models import ModelCatalog, model_not_found_body
from tests.fakes.realtime.client_secrets import ClientSecretsFake
from tests.fakes.realtime.connection import RealtimeConnection
from tests.fakes.realtime.fake import RealtimeFake
from tests.fakes.webrtc.calls import CallsFake
from tests.fakes.webrtc.live_calls import LiveCallsFake

__all__ = ["FakeOpenAIRoutes"]

_RAW_RECEIVE = "fake_openai.raw_receive"


class FakeOpenAIRoutes:
    """The endpoints of FakeOpenAI, over the protocol fakes it holds."""

    api_key: str | None
    models: ModelCatalog
    chat: ChatFake
    client_secrets: ClientSecretsFake
    realtime: RealtimeFake
    webrtc: CallsFake
    live: LiveFake
    live_webrtc: LiveCallsFake
    model_listings: int
    unhandled: list[tuple[str, str]]
    auth_failures: list[tuple[str, str]]
    app: Starlette

    def _key_ok(self, token: str | None) -> bool:
        if token is None:
            return False
        return self.api_key is None or token == self.api_key or token in self.client_secrets.minted

    def _check_auth(self, path: str, headers: Mapping[str, str]) -> JSONResponse | None:
        token = bearer_token(headers)
        if self._key_ok(token):
            return None
        self.auth_failures.append((path, "missing key" if token is None else "wrong key"))
        return JSONResponse(unauthorized_body(token), status_code=401)

    def _build_app(self) -> Starlette:
        async def chat_completions(request: Request) -> Response:
            return self._check_auth(request.url.path, request.headers) or await self.chat.handle(request)

        async def models(request: Request) -> Response:
            denied = self._check_auth(request.url.path, request.headers)
            if denied:
                return denied
            if not self.models.list_endpoint:
                return await not_found(request)
            self.model_listings += 1
            return JSONResponse(self.models.listing())

        async def model(request: Request) -> Response:
            denied = self._check_auth(request.url.path, request.headers)
            if denied:
                return denied
            if not self.models.list_endpoint:
                return await not_found(request)
            found = self.models.get(request.path_params["model"])
            if found is None:
                return JSONResponse(model_not_found_body(request.path_params["model"]), status_code=404)
            return JSONResponse(found.as_json())

        async def client_secrets(request: Request) -> Response:
            return self._check_auth(request.url.path, request.headers) or await self.client_secrets.handle(request)

        async def realtime_calls(request: Request) -> Response:
            return self._check_auth(request.url.path, request.headers) or await self.webrtc.create(request)

        async def realtime_call_hangup(request: Request) -> Response:
            return self._check_auth(request.url.path, request.headers) or await self.webrtc.hangup(request)

        async def live_sessions(request: Request) -> Response:
            return self._check_auth(request.url.path, request.headers) or await self.live_webrtc.create(request)

        async def live_hangup(request: Request) -> Response:
            request.path_params["call_id"] = request.path_params["session_id"]
            return self._check_auth(request.url.path, request.headers) or await self.live_webrtc.hangup(request)

        async def not_found(request: Request) -> Response:
            self.unhandled.append((request.method, request.url.path))
            return JSONResponse(
                {
                    "error": {
                        "message": f"Invalid URL ({request.method} {request.url.path})",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=404,
            )

        return Starlette(
            routes=[
                Route("/v1/chat/completions", chat_completions, methods=["POST"]),
                Route("/v1/models", models, methods=["GET"]),
                Route("/v1/models/{model:path}", model, methods=["GET"]),
                Route("/v1/realtime/client_secrets", client_secrets, methods=["POST"]),
                Route("/v1/realtime/calls", realtime_calls, methods=["POST"]),
                Route("/v1/realtime/calls/{call_id}/hangup", realtime_call_hangup, methods=["POST"]),
                WebSocketRoute("/v1/realtime", self._realtime_ws),
                WebSocketRoute("/v1/live/sessions", self._live_ws),
                Route("/v1/live/sessions", live_sessions, methods=["POST"]),
                Route("/v1/live/sessions/{session_id}/hangup", live_hangup, methods=["POST"]),
                WebSocketRoute("/v1/live/sessions/{session_id}/attach", self._live_attach),
                Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            ]
        )

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[_RAW_RECEIVE] = receive  # lets drop_connection() reach the TCP transport
        await self.app(scope, receive, send)

    async def _realtime_ws(self, websocket: WebSocket) -> None:
        token = bearer_token(websocket.headers)
        if not self._key_ok(token):
            self.auth_failures.append(("/v1/realtime", "missing key" if token is None else "wrong key"))
            await websocket.send_denial_response(JSONResponse(unauthorized_body(token), status_code=401))
            return
        model = websocket.query_params.get("model")
        if not model and not websocket.query_params.get("call_id"):
            await websocket.send_denial_response(
                JSONResponse(
                    {
                        "error": {
                            "message": "Missing required parameter: 'model'.",
                            "type": "invalid_request_error",
                            "param": "model",
                            "code": "missing_required_parameter",
                        }
                    },
                    status_code=400,
                )
            )
            return
        if model and self.models.get(model) is None:
            await websocket.send_denial_response(JSONResponse(model_not_found_body(model), status_code=404))
            return
        call_id = websocket.query_params.get("call_id")
        if call_id:
            await self.webrtc.attach(websocket, call_id)
            return
        hub = self.realtime
        raw_receive = websocket.scope.get(_RAW_RECEIVE)
        transport = getattr(getattr(raw_receive, "__self__", None), "transport", None)
        await websocket.accept()
        conn = RealtimeConnection(
            hub,
            websocket,
            index=hub._next_index(),
            model=model or "gpt-realtime",
            transport=transport,
            options=hub.options,
        )
        hub._attach(conn)
        beta = websocket.headers.get("openai-beta", "")
        if "realtime" in beta:
            hub._record_violation(
                conn.index,
                "beta_header",
                f"the client sent 'OpenAI-Beta: {beta}' (beta protocol); use the GA protocol",
                None,
            )
        await conn.run()

    async def _live_attach(self, websocket: WebSocket) -> None:
        token = bearer_token(websocket.headers)
        if not self._key_ok(token):
            self.auth_failures.append(("/v1/live/sessions/attach", "missing key" if token is None else "wrong key"))
            await websocket.send_denial_response(JSONResponse(unauthorized_body(token), status_code=401))
            return
        await self.live_webrtc.attach(websocket, websocket.path_params["session_id"])

    async def _live_ws(self, websocket: WebSocket) -> None:
        token = bearer_token(websocket.headers)
        if not self._key_ok(token):
            self.auth_failures.append(("/v1/live/sessions", "missing key" if token is None else "wrong key"))
            await websocket.send_denial_response(JSONResponse(unauthorized_body(token), status_code=401))
            return
        raw_receive = websocket.scope.get(_RAW_RECEIVE)
        transport = getattr(getattr(raw_receive, "__self__", None), "transport", None)
        await websocket.accept()
        conn = LiveConnection(self.live, websocket, index=self.live._next_index(), transport=transport)
        self.live._attach(conn)
        await conn.run()
