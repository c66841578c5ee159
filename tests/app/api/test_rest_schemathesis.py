"""The REST API against its own OpenAPI schema: schemathesis 4 fuzzes every operation of the real server.

What it proves: for every operation in /openapi.json, generated requests (valid ones, and invalid ones in
negative mode) never get a 5xx, and every response conforms to the schema (status code declared, content
type, response body matching the declared model, invalid input refused, valid input accepted: schemathesis'
default checks), including the run endpoints with the id of a stored run. With APP_TOKEN set, the same holds
with the token; without it, no 5xx and every operation but /health answers 401 (the access guard answers
before any route, so that 401 is checked here rather than declared per operation). The server is the real app
under uvicorn on loopback (live_app); POST /session mints its secrets from the fake OpenAI server, so nothing
leaves the machine. Hypothesis runs derandomized; the figures are printed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, CheckFunction, GenerationMode
from schemathesis.core.failures import FailureGroup

from tests.support.fuzz_strategies import FUZZ_SETTINGS
from tests.support.live_server import LiveServer, ScriptBook, live_app, scripted_app
from tests.support.scripted import paris_script

MAX_EXAMPLES = 60  # per operation and generation mode
TOKEN = "fuzz-app-token-0123456789"
OPEN_PATHS = {
    "/health",
    "/protocol.json",
    "/openapi.json",
    "/docs",
}  # app/sessions/access.py: reachable without the token


@dataclass
class FuzzRun:
    """Cases sent and failures found by one schemathesis run."""

    label: str
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    no_negative: list[str] = field(default_factory=list)  # operations with no input that can be made invalid

    def line(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        skipped = f"; no negative cases for {', '.join(self.no_negative)}" if self.no_negative else ""
        return (
            f"schemathesis {self.label}: {self.cases} cases, {len(self.failures)} failed (statuses {statuses}){skipped}"
        )


Check = Callable[[Case[Any], Any], str | None]  # a problem with (case, response), or None


def token_refused(case: Case[Any], response: Any) -> str | None:
    """Without the token, only the open paths answer; everything else is 401."""
    if case.operation.path in OPEN_PATHS or response.status_code == 401:
        return None
    return f"expected 401 without the token, got {response.status_code}"


@dataclass
class Target:
    """Where and how the cases go: the server, the headers they carry, and the checks their responses get."""

    base_url: str
    headers: dict[str, str]
    default_checks: bool = True  # all of schemathesis' default checks, else only not_a_server_error
    extra: Check | None = None

    def schema(self, headers: dict[str, str]) -> Any:
        return schemathesis.openapi.from_url(f"{self.base_url}/openapi.json", headers=headers, timeout=10)


def fuzz_operation(
    operation: Any, mode: GenerationMode, target: Target, run: FuzzRun, path_parameters: dict[str, str] | None = None
) -> None:
    """Up to MAX_EXAMPLES cases of one operation; every response checked, every problem recorded."""
    checks: list[CheckFunction] | None = None if target.default_checks else [schemathesis.checks.not_a_server_error]

    @settings(FUZZ_SETTINGS, max_examples=MAX_EXAMPLES)
    @given(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def one_case(case: Case[Any]) -> None:
        response = case.call(base_url=target.base_url, headers=target.headers, timeout=10)
        run.cases += 1
        run.statuses[response.status_code] += 1
        problems = [] if target.extra is None else [target.extra(case, response)]
        try:
            case.validate_response(response, checks=checks, headers=target.headers)
        except FailureGroup as group:
            problems.append(str(group))
        run.failures += [f"{operation.label} ({mode.value}): {p}" for p in problems if p]

    try:
        one_case()
    except Unsatisfiable:
        # No input of this operation can be made invalid (none at all, or only a free-form path string):
        # schemathesis skips negative cases for it too. Listed in the figures; never allowed for positive.
        assert mode is GenerationMode.NEGATIVE, f"no valid case for {operation.label}"
        run.no_negative.append(operation.label)


MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def fuzz_rest(target: Target, label: str, schema_headers: dict[str, str]) -> FuzzRun:
    """Every operation of the schema, positive and negative cases. Blocking: run it in a thread."""
    run = FuzzRun(label)
    for result in target.schema(schema_headers).get_all_operations():
        for mode in MODES:
            fuzz_operation(result.ok(), mode, target, run)
    return run


def fuzz_real_run(target: Target, run_id: str) -> FuzzRun:
    """The run endpoints with the id of a stored run: real records against the declared models, and the
    query parameters (after, limit) fuzzed where they reach the database."""
    run = FuzzRun("GET /runs/{run_id}[/events] of a stored run")
    schema = target.schema(target.headers)
    for path in ("/runs/{run_id}", "/runs/{run_id}/events"):
        operation = schema[path]["GET"]
        case = operation.Case(path_parameters={"run_id": run_id})
        response = case.call(base_url=target.base_url, headers=target.headers, timeout=10)
        assert response.status_code == 200, response.text
        case.validate_response(response, headers=target.headers)
        for mode in MODES:
            fuzz_operation(operation, mode, target, run, path_parameters={"run_id": run_id})
    return run


async def seed_run(server: LiveServer) -> str:
    """One real run in the store, so the run endpoints return real records."""
    client = await server.connect()
    await client.recv()
    await client.send({"type": "task", "text": "Weather in Paris?"})
    done = await client.until(lambda e: e["type"] == "run_finished", timeout=15)
    await client.close()
    return str(done["run_id"])


def fake_backed_app(tmp_path: Path, fake_openai: Any, **settings: Any) -> Any:
    return scripted_app(
        tmp_path,
        ScriptBook(paris_script),
        openai_base_url=fake_openai.base_url,
        session_rate_per_min=1_000_000,
        **settings,
    )


def report(capsys: pytest.CaptureFixture[str], *runs: FuzzRun) -> None:
    with capsys.disabled():
        print()
        for run in runs:
            print(run.line())


async def test_rest_api_conforms_to_its_schema(
    tmp_path: Path, fake_openai: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async with live_app(fake_backed_app(tmp_path, fake_openai)) as server:
        run_id = await seed_run(server)
        target = Target(server.http_url, headers={})
        fuzzed = await asyncio.to_thread(fuzz_rest, target, "REST", {})
        real_run = await asyncio.to_thread(fuzz_real_run, target, run_id)
    report(capsys, fuzzed, real_run)
    for run in (fuzzed, real_run):
        assert not run.failures, "\n\n".join(run.failures[:5])
        assert not [status for status in run.statuses if status >= 500]
    assert fuzzed.cases >= 100 and fuzzed.statuses[200] and fuzzed.statuses[404] and fuzzed.statuses[422]
    assert real_run.statuses[200] and real_run.statuses[422]
    fake_openai.assert_clean()


async def test_rest_api_with_app_token(tmp_path: Path, fake_openai: Any, capsys: pytest.CaptureFixture[str]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with live_app(fake_backed_app(tmp_path, fake_openai, app_token=TOKEN)) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.get("/openapi.json")).status_code == 200  # public: the calls need the token
        with_token = await asyncio.to_thread(fuzz_rest, Target(server.http_url, auth), "APP_TOKEN, with token", auth)
        no_token = Target(server.http_url, {}, default_checks=False, extra=token_refused)
        without = await asyncio.to_thread(fuzz_rest, no_token, "APP_TOKEN, no token", auth)
    report(capsys, with_token, without)
    for run in (with_token, without):
        assert not run.failures, "\n\n".join(run.failures[:5])
        assert run.cases and not [status for status in run.statuses if status >= 500]
    assert with_token.statuses[200] and without.statuses[401] and set(without.statuses) <= {200, 401}
    fake_openai.assert_clean()
