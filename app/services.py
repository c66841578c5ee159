"""What the routes share, built by the app's lifespan (app/main.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.redaction import Redactor
from app.sessions import SessionRegistry
from app.settings import Settings
from app.store import RunStore
from tools.code_execution import CodeSandbox


@dataclass
class Services:
    settings: Settings
    store: RunStore
    registry: SessionRegistry
    redactor: Redactor
    sandbox: CodeSandbox | None = None  # None when tests supply their own Developer tools
    extras: dict[str, Any] = field(default_factory=dict)  # the voice front's factories (typed when it moves)
