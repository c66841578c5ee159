"""The WebRTC calls this server holds: one narrator on each call's sideband, owned by the user who made it.

A call outlives the page's sockets (the browser talks to OpenAI directly); it ends when the page hangs up, when
the call is gone on OpenAI's side (the sideband can no longer attach), or when the server stops. What the
narrator would tell the page (state, captions, team events, a masked event mirror) goes to a bounded recent
history and to the page sockets that follow the call (`follow`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.realtime.voice_front import VoiceFront

log = logging.getLogger(__name__)
HISTORY = 200  # messages a follower that joins late gets first
FOLLOWERS_PER_CALL = 4
FOLLOWER_QUEUE = 2000  # messages; a follower that falls this far behind is dropped


class TooManyCalls(Exception):
    pass


@dataclass
class CallOutput:
    """What the call's narrator says to the page: kept briefly, and fanned out to the page sockets."""

    history: deque[dict[str, Any] | bytes | str] = field(default_factory=lambda: deque(maxlen=HISTORY))
    followers: list[asyncio.Queue[dict[str, Any] | bytes | str | None]] = field(default_factory=list)
    captions: bool = False
    """Realtime: the page makes its captions from the call's data channel, so the narrator's are not sent.
    GPT-Live: the narrator's (it knows the turns), so they are."""

    def __call__(self, message: dict[str, Any] | bytes | str) -> None:
        if not self.captions and isinstance(message, dict) and message.get("type") == "caption":
            return
        self.history.append(message)
        for queue in list(self.followers):
            if queue.qsize() >= FOLLOWER_QUEUE:
                self.followers.remove(queue)
                queue.put_nowait(None)  # the follower ends; the page reconnects and gets the history
            else:
                queue.put_nowait(message)

    def follow(self) -> asyncio.Queue[dict[str, Any] | bytes | str | None]:
        if len(self.followers) >= FOLLOWERS_PER_CALL:
            self.unfollow(self.followers[0])
        queue: asyncio.Queue[dict[str, Any] | bytes | str | None] = asyncio.Queue()
        for message in self.history:
            queue.put_nowait(message)
        self.followers.append(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[Any]) -> None:
        if queue in self.followers:
            self.followers.remove(queue)
            queue.put_nowait(None)

    def end(self) -> None:
        for queue in list(self.followers):
            self.unfollow(queue)


@dataclass
class VoiceCall:
    call_id: str
    owner: str
    session_id: str
    front: VoiceFront
    output: CallOutput
    release: Callable[[], Awaitable[None]]
    """Gives the team session back to the session registry (the call held it like a connection)."""
    hangup: Callable[[], Awaitable[Any]]
    """Ends the call on the voice service's side (the browser's audio stops there too)."""


class VoiceCalls:
    """Calls by id, at most `max_calls` in all; and every voice session a user holds (calls and /ws/voice relay
    sockets, each a paid upstream session) at most `per_user`."""

    def __init__(self, *, max_calls: int, per_user: int) -> None:
        self._max_calls = max_calls
        self._per_user = per_user
        self._calls: dict[str, VoiceCall] = {}
        self._lock = asyncio.Lock()
        self._ending: set[asyncio.Task[bool]] = set()
        self._reserved: dict[str, int] = {}  # owner -> calls being created
        self._relays: dict[str, int] = {}  # owner -> /ws/voice sockets with a narrator of their own

    def __len__(self) -> int:
        return len(self._calls)

    def reserve(self, owner: str) -> None:
        """Hold a place for a call being created (the service is asked meanwhile); `unreserve` when done."""
        reserved = sum(self._reserved.values())
        if len(self._calls) + reserved >= self._max_calls:
            raise TooManyCalls("The server holds as many voice calls as it can; try again later.")
        self._check_user(owner)
        self._reserved[owner] = self._reserved.get(owner, 0) + 1

    def _check_user(self, owner: str) -> None:
        mine = sum(1 for c in self._calls.values() if c.owner == owner)
        mine += self._reserved.get(owner, 0) + self._relays.get(owner, 0)
        if mine >= self._per_user:
            raise TooManyCalls(
                f"At most {self._per_user} voice sessions at once (VOICE_SESSIONS_PER_USER); end one first."
            )

    def open_relay(self, owner: str) -> None:
        """Count a /ws/voice socket's narrator session (TooManyCalls past the user's limit); `close_relay` after."""
        self._check_user(owner)
        self._relays[owner] = self._relays.get(owner, 0) + 1

    def close_relay(self, owner: str) -> None:
        left = self._relays.get(owner, 0) - 1
        if left > 0:
            self._relays[owner] = left
        else:
            self._relays.pop(owner, None)

    def unreserve(self, owner: str) -> None:
        left = self._reserved.get(owner, 0) - 1
        if left > 0:
            self._reserved[owner] = left
        else:
            self._reserved.pop(owner, None)

    def add(self, call: VoiceCall) -> None:
        self._calls[call.call_id] = call

    def get(self, call_id: str, owner: str) -> VoiceCall | None:
        """The call, if it is this user's (another user's call answers as if absent)."""
        call = self._calls.get(call_id)
        return call if call is not None and call.owner == owner else None

    async def end(self, call_id: str) -> bool:
        async with self._lock:
            call = self._calls.pop(call_id, None)
        if call is None:
            return False
        call.output.end()
        await call.front.close()
        try:
            await call.hangup()
        except Exception as exc:  # noqa: BLE001 - already gone there (404), or unreachable: nothing to end
            log.info("hanging up the voice call: %s", type(exc).__name__)
        await call.release()
        log.info("voice call ended", extra={"session_id": call.session_id})
        return True

    def end_soon(self, call_id: str) -> None:
        """From inside the call's own narrator (it found the call gone): end it from another task."""
        task = asyncio.get_running_loop().create_task(self.end(call_id))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def close_all(self) -> None:
        for call_id in list(self._calls):
            await self.end(call_id)
