"""What `research-team serve` says on a terminal once it is ready: where it is, what works, what is missing and
what to do about it. Built from the running app's services (the model check is the server's own:
services.model_watch.latest, app/sessions/model_lifecycle.py), so it says what the server found, not what it guessed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url

from app.services import Services

OK, MISSING, NOTE = "ok", "missing", "note"


@dataclass(frozen=True)
class Line:
    status: str  # OK, MISSING or NOTE
    what: str
    detail: str


def banner_lines(services: Services, users_enabled: bool) -> list[Line]:
    settings = services.settings
    lines: list[Line] = []
    if not settings.has_model_access:
        lines.append(Line(MISSING, "model key", "OPENAI_API_KEY is not set: the team cannot answer. Put it in .env "
                                                "(cp .env.example .env) and restart."))  # fmt: skip
    else:
        check = services.model_watch.latest if services.model_watch is not None else None
        if check is None:
            lines.append(Line(OK, "model key", "set (models not checked: MODEL_CONFIG_FILE, or the check is late)"))
        elif check.listing != "ok":
            lines.append(Line(MISSING, "models", f"could not be checked: {check.detail}"))
        elif check.missing or check.retiring:
            for state in check.missing + check.retiring:
                lines.append(Line(MISSING if state.status == "missing" else NOTE, "model", state.message))
        else:
            names = ", ".join(sorted({s.configured.model for s in check.states}))
            lines.append(Line(OK, "models", f"{names}: available"))
    isolation = services.sandbox.isolation if services.sandbox is not None else None
    if isolation is None:
        lines.append(Line(NOTE, "code sandbox", "not in this process (workers run code)"))
    elif isolation.ok:
        lines.append(Line(OK, "code sandbox", isolation.executor))
    elif isolation.executor == "unsafe-local":
        lines.append(Line(NOTE, "code sandbox", "unsafe-local: code runs without isolation (CODE_EXECUTOR)"))
    else:
        lines.append(Line(MISSING, "code sandbox", "no isolation tool: the Developer cannot run code. Install "
                                                   "bubblewrap (apt install bubblewrap) or see `research-team doctor`."))  # fmt: skip
    lines.append(Line(OK, "store", _store(settings.database_url)))
    if users_enabled:
        lines.append(Line(NOTE, "users", "tokens required (research-team users list)"))
    else:
        lines.append(Line(NOTE, "users", "none: open to anyone who can reach this address (research-team users add NAME)"))  # fmt: skip
    return lines


def _store(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return f"{url.get_backend_name()} {url.host or ''}/{url.database or ''}"


def render(url: str, lines: list[Line], colour: bool) -> str:
    marks = {OK: ("✓", "32"), MISSING: ("✗", "31"), NOTE: ("!", "33")}

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    out = ["", paint(f"Research team ready at {url}", "1"), f"  the page: {url}/   API: {url}/docs"]
    for line in lines:
        mark, code = marks[line.status]
        out.append(f"  {paint(mark, code)} {line.what:<13} {line.detail}")
    todo = [line for line in lines if line.status == MISSING]
    if todo:
        out.append(paint("  Fix the ✗ lines, then restart. `research-team doctor` checks each in detail.", "33"))
    else:
        out.append(f'  Open {url}/ in a browser, or ask from a terminal: research-team ask "your question"')
    out.append("")
    return "\n".join(out)
