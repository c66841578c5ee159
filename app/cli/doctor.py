"""`research-team doctor`: what a user should know before the first question, one line per check.

Each check says ok (✓), warn (⚠: works today, act soon) or fail (✗: this part cannot work), what it found, and
what to do, naming the setting behind every model. It talks to the same places the server would: the model API
at OPENAI_BASE_URL (GET /v1/models, then a small probe per model: a strict tool call where the role calls
tools), the narrator's Realtime session (or GPT-Live's), the code sandbox, the run store and Redis.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from autogen_core.models import ChatCompletionClient, LLMMessage, SystemMessage, UserMessage
from autogen_core.tools import ToolSchema

from agents.models.clients import ROLES, ModelConfigError, clients_from_config_file, raw_model_clients
from app.core.settings import Settings
from app.core.voice_settings import VoiceSettings
from app.sessions.model_lifecycle import ModelCheck, ModelState, check_models, configured_models

Status = Literal["ok", "warn", "fail"]
MARKS = {"ok": "✓", "warn": "⚠", "fail": "✗"}
PROBE_TOOL = ToolSchema(
    name="ready",
    description="Report that you can call tools.",
    parameters={
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    },
    strict=True,
)
TOOL_ROLES = ("manager", "researcher", "developer")  # the selector never gets tools


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str | None = None
    setting: str | None = None


async def diagnose(settings: Settings) -> list[Finding]:
    """Every check, in the order a user would fix things."""
    found: list[Finding] = []
    client = _openai(settings)
    check: ModelCheck | None = None
    if client is None and settings.model_config_file is None:
        found.append(Finding("key", "fail", "OPENAI_API_KEY is not set", "put OPENAI_API_KEY=sk-... in .env"))
    elif client is None:
        found.append(
            Finding("key", "ok", f"no OPENAI_API_KEY: the team's models come from {settings.model_config_file}")
        )
    else:
        check = await check_models(client, configured_models(settings, settings.voice))
        found.append(_listing_finding(check, settings))
    found += await _team_models(settings, check)
    if client is not None and check is not None and check.listing != "refused":
        found += await _narrator(client, settings, settings.voice, check)
    found.append(await _sandbox(settings))
    found.append(await _database(settings))
    if settings.redis_url:
        found.append(await _redis(settings.redis_url))
    return found


def _openai(settings: Settings) -> Any | None:
    if settings.openai_api_key is None:
        return None
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key=settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url)


def _listing_finding(check: ModelCheck, settings: Any) -> Finding:
    where = settings.openai_base_url or "OpenAI (api.openai.com)"
    if check.listing == "ok":
        return Finding("model API", "ok", f"{where}: reachable, key accepted, {check.detail}")
    if check.listing == "unsupported":
        return Finding(
            "model API", "warn", f"{where}: {check.detail}", "fine for an OpenAI-compatible server; the probes decide"
        )
    if check.listing == "refused":
        return Finding("model API", "fail", f"{where}: {check.detail}", "set a valid OPENAI_API_KEY", "OPENAI_API_KEY")
    return Finding("model API", "fail", f"{where}: {check.detail}", "check OPENAI_BASE_URL and the network")


def _state_finding(state: ModelState) -> Finding | None:
    """A finding from the model list alone (missing, or a shutdown date), or None when a probe decides."""
    setting = state.configured.setting
    model = state.configured.model
    if state.status == "missing":
        fix = f"set {setting} to a current model (README: Models)"
        return Finding(setting, "fail", f"{model}: {state.summary}", fix, setting)
    if state.status == "retiring":
        return Finding(setting, "warn", f"{model}: {state.summary}", f"set {setting} to a current model", setting)
    return None


async def _team_models(settings: Settings, check: ModelCheck | None) -> list[Finding]:
    states = {s.configured.setting: s for s in check.states} if check else {}
    if check is not None and check.listing in ("refused", "unreachable"):
        return [Finding(f"{r.upper()}_MODEL", "fail", "not checked: the model API is not usable", None) for r in ROLES]
    try:
        if settings.model_config_file is not None:
            clients = clients_from_config_file(settings.model_config_file)
        elif settings.openai_api_key is not None:
            clients = raw_model_clients(settings)
        else:
            return []
    except (ModelConfigError, ValueError, OSError) as exc:
        return [Finding("models", "fail", f"the model configuration cannot be used: {exc}", None)]
    probes: dict[int, asyncio.Task[tuple[Status, str]]] = {}
    found: list[Finding] = []
    for role in ROLES:
        setting = f"{role.upper()}_MODEL"
        model = getattr(settings, f"{role}_model") if settings.model_config_file is None else f"{role} (config file)"
        listed = _state_finding(states[setting]) if setting in states else None
        if listed is not None and listed.status == "fail":
            found.append(listed)
            continue
        client = clients[role]
        key = id(client) * 2 + (role in TOOL_ROLES)
        if key not in probes:
            probes[key] = asyncio.ensure_future(_probe(client, tools=role in TOOL_ROLES))
        status, detail = await probes[key]
        if status != "ok":
            fix = f"check {setting} (and {role.upper()}_REASONING_EFFORT)"
            found.append(Finding(setting, "fail", f"{model}: {detail}", fix, setting))
        elif listed is not None:  # answers today, but a shutdown date is announced
            summary = listed.detail.split(": ", 1)[-1]
            found.append(Finding(setting, "warn", f"{model}: {detail}; {summary}", listed.fix, setting))
        else:
            found.append(Finding(setting, "ok", f"{model}: {detail}", None, setting))
    await _close(clients.values())
    return found


async def _probe(client: ChatCompletionClient, *, tools: bool) -> tuple[Status, str]:
    """One small call as the team makes it: a forced strict tool call for a tool-using role, a word otherwise."""
    messages: list[LLMMessage] = [
        SystemMessage(content="You are a health check. Call the tool `ready` with ok=true." if tools else "Say ok."),
        UserMessage(content="ping", source="doctor"),
    ]
    try:
        async with asyncio.timeout(60):
            result = await client.create(
                messages,
                tools=[PROBE_TOOL] if tools else [],
                tool_choice="required" if tools else "auto",
                extra_create_args={"max_completion_tokens": 256},
            )
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure
        return "fail", f"{type(exc).__name__}: {str(exc)[:300]}"
    if not tools:
        return "ok", "answers"
    calls = result.content if isinstance(result.content, list) else []
    if any(getattr(call, "name", None) == "ready" for call in calls):
        return "ok", "answers and calls tools (strict)"
    return "fail", "answered without calling the tool it was made to call: the team's agents need tool calls"


async def _close(clients: Sequence[ChatCompletionClient] | Any) -> None:
    for client in {id(c): c for c in clients}.values():
        try:
            await client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


async def _narrator(client: Any, settings: Settings, voice: VoiceSettings, check: ModelCheck) -> list[Finding]:
    states = {s.configured.setting: s for s in check.states}
    found: list[Finding] = []
    for setting in ("REALTIME_TRANSCRIPTION_MODEL", "LIVE_INTENT_MODEL"):
        if setting in states:
            state = states[setting]
            ok = Finding(setting, "ok", f"{state.configured.model}: {state.summary}", None, setting)
            found.append(_state_finding(state) or ok)
    live = getattr(voice, "voice_api", "realtime") == "live"
    setting = "LIVE_MODEL" if live else "REALTIME_MODEL"
    listed = _state_finding(states[setting]) if setting in states else None
    if listed is not None and listed.status == "fail":
        return [listed, *found]
    try:
        async with asyncio.timeout(15):
            detail = await (_open_live(client, voice) if live else _open_realtime(client, settings.realtime_model))
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure
        return [
            Finding(
                setting,
                "fail",
                f"the narrator's session did not open: {type(exc).__name__}: {exc}"[:400],
                f"check {setting}",
                setting,
            ),
            *found,
        ]
    if listed is not None:
        summary = listed.detail.split(": ", 1)[-1]
        return [Finding(setting, "warn", f"{detail}; {summary}", listed.fix, setting), *found]
    return [Finding(setting, "ok", detail, None, setting), *found]


async def _open_realtime(client: Any, model: str) -> str:
    async with client.realtime.connect(model=model) as conn:
        event = await conn.recv()
        if event.type != "session.created":
            raise RuntimeError(f"the first event was {event.type}")
    return f"{model}: a Realtime session opens"


async def _open_live(client: Any, voice: VoiceSettings) -> str:
    from app.realtime.live.config import session_start

    async with client.live.connect() as conn:
        await conn.send(session_start(model=voice.live_model, voice=voice.live_voice, acknowledgement_delay_ms=400))
        event = await conn.recv()
        if event.type != "session.started":
            raise RuntimeError(f"the first event was {event.type}: {getattr(event, 'error', '')}")
    return f"{voice.live_model}: a GPT-Live session opens"


async def _sandbox(settings: Settings) -> Finding:
    from tools.code_execution import CodeSandbox

    sandbox = CodeSandbox(settings.tools)
    try:
        async with asyncio.timeout(30):
            await sandbox.start()
        isolation = sandbox.isolation
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure
        return Finding("code execution", "fail", f"{type(exc).__name__}: {exc}", "see the README: Code execution")
    finally:
        await sandbox.stop()
    if isolation.ok:
        return Finding("code execution", "ok", f"isolated: {isolation.executor}: {isolation.detail}")
    if isolation.runs_code:
        return Finding("code execution", "warn", f"NOT isolated: {isolation.detail}", "install bubblewrap")
    return Finding(
        "code execution", "fail", f"refused: {isolation.detail}", "install bubblewrap (apt-get install bubblewrap)"
    )


async def _database(settings: Settings) -> Finding:
    from sqlalchemy import text

    from app.store.run_store import RunStore

    store = RunStore(settings.database_url)
    try:
        async with asyncio.timeout(15):
            await store.start()
            async with store.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure
        return Finding(
            "database", "fail", f"{type(exc).__name__}: {str(exc)[:300]}", "check DATABASE_URL", "DATABASE_URL"
        )
    finally:
        await store.stop()
    return Finding("database", "ok", f"{store.dialect}: reachable, schema ready", None, "DATABASE_URL")


async def _redis(url: str) -> Finding:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(url)
    try:
        async with asyncio.timeout(5):
            await client.ping()
    except Exception as exc:  # noqa: BLE001 - the doctor reports every failure
        return Finding("redis", "fail", f"{type(exc).__name__}: {str(exc)[:200]}", "check REDIS_URL", "REDIS_URL")
    finally:
        await client.aclose()
    return Finding("redis", "ok", "reachable", None, "REDIS_URL")


def render(findings: Sequence[Finding]) -> list[str]:
    lines = []
    for f in findings:
        line = f"{MARKS[f.status]} {f.check}: {f.detail}"
        if f.fix and f.status != "ok":
            line += f"\n    → {f.fix}"
        lines.append(line)
    return lines


def as_json(findings: Sequence[Finding]) -> str:
    ok = not any(f.status == "fail" for f in findings)
    return json.dumps({"ok": ok, "checks": [asdict(f) for f in findings]}, ensure_ascii=False, indent=2)


def exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.status == "fail" for f in findings) else 0
