"""Models are retired under us: know it before a user does.

OpenAI's documented way to watch shutdowns is `GET /v1/models`: each model carries `shutdown_date`
(YYYY-MM-DD, or null when none is announced), and a shut-down model is gone from the list and answers
`404 model_not_found` (developers.openai.com/api/docs/deprecations and the models API reference, read
2026-12-07). `check_models` reads it for every model the server is configured with and says, per setting:
ok, retiring (a shutdown date, a warning within `WARN_DAYS`), missing (what to set), or unchecked (the base URL
does not serve the list, as some OpenAI-compatible servers don't). `ModelWatch` does that at startup and every
MODEL_CHECK_EVERY_S, logs what changed, feeds `/health` and the `research_team_model_*` gauges. `research-team
doctor` (app/cli/doctor.py) uses the same check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

WARN_DAYS = 60  # a shutdown closer than this is announced loudly
Status = Literal["ok", "retiring", "missing", "unchecked"]
Listing = Literal["ok", "unsupported", "refused", "unreachable"]


@dataclass(frozen=True)
class ConfiguredModel:
    """A model the server uses, and the setting that names it."""

    setting: str  # e.g. MANAGER_MODEL
    model: str
    purpose: str  # e.g. "the Manager"


@dataclass(frozen=True)
class ModelState:
    configured: ConfiguredModel
    status: Status
    shutdown_date: dt.date | None = None
    days_left: int | None = None

    @property
    def summary(self) -> str:
        """What the list says of the model, without naming the setting."""
        if self.status == "missing":
            return "does not exist where OPENAI_BASE_URL points (shut down or misspelled)"
        if self.status == "retiring":
            return f"shuts down on {self.shutdown_date} ({self.days_left} days left)"
        if self.status == "unchecked":
            return "not checked (the server does not list its models)"
        return "available, no shutdown announced"

    @property
    def message(self) -> str:
        """The summary with the setting that names the model and what to do."""
        c = self.configured
        todo = {
            "missing": f"; set {c.setting} to a current model",
            "retiring": f"; set {c.setting} to a current model before then",
        }
        return f"{c.setting}={c.model} ({c.purpose}): {self.summary}{todo.get(self.status, '')}"

    def as_json(self) -> dict[str, Any]:
        return {
            "setting": self.configured.setting,
            "model": self.configured.model,
            "status": self.status,
            "shutdown_date": self.shutdown_date.isoformat() if self.shutdown_date else None,
            "days_left": self.days_left,
            "message": self.message,
        }


@dataclass(frozen=True)
class ModelCheck:
    listing: Listing
    detail: str
    states: tuple[ModelState, ...] = ()
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def missing(self) -> list[ModelState]:
        return [s for s in self.states if s.status == "missing"]

    @property
    def retiring(self) -> list[ModelState]:
        return [s for s in self.states if s.status == "retiring"]

    @property
    def degraded(self) -> bool:
        """A configured model is gone: that part of the server cannot answer."""
        return bool(self.missing)


def configured_models(settings: Any, voice: Any | None = None) -> list[ConfiguredModel]:
    """Every model setting in use: the team's roles (unless MODEL_CONFIG_FILE supplies the clients), the
    narrator and its transcription, and GPT-Live's models when VOICE_API=live."""
    found: list[ConfiguredModel] = []
    if getattr(settings, "model_config_file", None) is None:
        for role, purpose in (
            ("manager", "the Manager"),
            ("researcher", "the Researcher"),
            ("developer", "the Developer"),
            ("selector", "the selector"),
        ):
            found.append(ConfiguredModel(f"{role.upper()}_MODEL", getattr(settings, f"{role}_model"), purpose))
    found.append(ConfiguredModel("REALTIME_MODEL", settings.realtime_model, "the narrator (Realtime)"))
    found.append(
        ConfiguredModel(
            "REALTIME_TRANSCRIPTION_MODEL", settings.realtime_transcription_model, "the narrator's transcription"
        )
    )
    if voice is not None and getattr(voice, "voice_api", "realtime") == "live":
        found.append(ConfiguredModel("LIVE_MODEL", voice.live_model, "the narrator (GPT-Live)"))
        found.append(ConfiguredModel("LIVE_INTENT_MODEL", voice.live_intent_model, "GPT-Live's intent check"))
    return found


def current_date() -> dt.date:
    """Today, as the watch judges shutdown dates (tests pin it)."""
    return dt.date.today()


def _state(configured: ConfiguredModel, shutdown: str | None, today: dt.date) -> ModelState:
    if shutdown is None:
        return ModelState(configured, "ok")
    date = dt.date.fromisoformat(shutdown[:10])
    days = (date - today).days
    if days <= 0:
        return ModelState(configured, "missing", date, days)
    return ModelState(configured, "retiring", date, days)


async def check_models(
    client: Any, models: Sequence[ConfiguredModel], *, today: dt.date | None = None, timeout_s: float = 10.0
) -> ModelCheck:
    """Read `GET /v1/models` once (the SDK pages through it) and judge every configured model against it."""
    import openai

    today = today or current_date()
    if hasattr(client, "with_options"):  # one quick try: retries with backoff would hold startup up
        client = client.with_options(max_retries=0, timeout=timeout_s)
    try:
        listed: dict[str, str | None] = {}
        async with asyncio.timeout(timeout_s):
            async for model in client.models.list():
                listed[model.id] = getattr(model, "shutdown_date", None)
    except openai.NotFoundError:
        detail = "the base URL does not serve GET /v1/models: model availability and shutdown dates are not checked"
        return ModelCheck("unsupported", detail, tuple(ModelState(m, "unchecked") for m in models))
    except openai.AuthenticationError:
        detail = "the API refused our key (401): check OPENAI_API_KEY"
        return ModelCheck("refused", detail, tuple(ModelState(m, "unchecked") for m in models))
    except (openai.APIError, TimeoutError, OSError) as exc:
        detail = f"GET /v1/models failed: {type(exc).__name__}: {str(exc)[:200]}"
        return ModelCheck("unreachable", detail, tuple(ModelState(m, "unchecked") for m in models))
    states = []
    for configured in models:
        if configured.model in listed:
            states.append(_state(configured, listed[configured.model], today))
        else:
            states.append(await _retrieve(client, configured, today))
    return ModelCheck("ok", f"{len(listed)} models listed", tuple(states))


async def _retrieve(client: Any, configured: ConfiguredModel, today: dt.date) -> ModelState:
    """A model missing from the list may still be served (a dated snapshot, a fine-tune): ask for it alone."""
    import openai

    try:
        model = await client.models.retrieve(configured.model)
    except openai.NotFoundError:
        return ModelState(configured, "missing")
    except (openai.APIError, OSError):
        return ModelState(configured, "unchecked")
    return _state(configured, getattr(model, "shutdown_date", None), today)


class ModelWatch:
    """The latest check, renewed every `every_s`; logs what changed, sets the gauges. Owns `latest`."""

    def __init__(self, client: Any, models: Sequence[ConfiguredModel], every_s: float) -> None:
        self._client = client
        self._models = list(models)
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None
        self._said: set[str] = set()
        self.latest: ModelCheck | None = None

    async def check(self) -> ModelCheck:
        result = await check_models(self._client, self._models)
        self.latest = result
        self._report(result)
        return result

    def _report(self, result: ModelCheck) -> None:
        from app.core import metrics

        said: set[str] = set()
        if result.listing != "ok":
            said.add(result.detail)
            if result.detail not in self._said:
                level = logging.INFO if result.listing == "unsupported" else logging.WARNING
                log.log(level, "model check: %s", result.detail)
        for state in result.states:
            c = state.configured
            metrics.MODEL_AVAILABLE.labels(c.setting, c.model).set(0 if state.status == "missing" else 1)
            if state.days_left is not None:
                metrics.MODEL_DAYS_LEFT.labels(c.setting, c.model).set(max(state.days_left, 0))
            near = state.status == "retiring" and (state.days_left or 0) <= WARN_DAYS
            if state.status == "missing" or near:
                said.add(state.message)
                if state.message not in self._said:
                    log.warning("model check: %s", state.message, extra={"setting": c.setting, "model": c.model})
        self._said = said

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="model-watch")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            try:
                await self.check()
            except Exception:
                log.exception("model check failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
