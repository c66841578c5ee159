"""What the routes share, built by the app's lifespan (app/main.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.redaction import Redactor
from app.sessions import SessionRegistry
from app.settings import Settings
from app.store import RunStore


@dataclass
class Services:
    settings: Settings
    store: RunStore
    registry: SessionRegistry
    redactor: Redactor
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the code sandbox, the realtime factory
