"""The run store's tables, and the one migration an older database needs.

- runs: one row per run, derived from its events (status, answer, usage), with the owner of its session.
- events: every session event as sent (scrubbed JSON), unique per (session, seq).
- sessions: who owns each session id; another user's session answers as if it did not exist.
- users: tokens created with `research-team users add`, kept only as SHA-256 hashes.
- checkpoints: per session, the team's last saved state and the seq it covers (written in the same transaction
  as that event), so another worker can resume the session's run after a crash (app/distributed).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False, index=True),
    Column("task", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("final_answer", Text),
    Column("stop_reason", String(32)),
    Column("usage", Text),
    Column("duration_s", Float),
    Column("first_seq", Integer),
    Column("last_seq", Integer),
    Column("owner", String(64), nullable=False, server_default="local", index=True),
    Column("spent", Text),  # JSON: what the run used of its budget, cost in USD included (run_finished.spent)
)
Index("ix_runs_created_at", runs.c.created_at)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("run_id", String(64), index=True),
    Column("type", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("session_id", "seq", name="uq_events_session_seq"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("run_id", String(64)),
    Column("state", Text, nullable=False),  # JSON: agents/session/checkpoint.py SessionCheckpoint
    Column("memory", Text),  # JSON: the team's state after the last finished run (written when it changes)
    Column("updated_at", String(40), nullable=False),
)

ACTIVE_STATUSES = ("running", "pausing", "paused")
LOCAL_OWNER = "local"  # the one owner of a server with no users configured


ADDED_COLUMNS = {  # columns added to `runs` after its first version, and how an older database gets them
    "owner": f"ALTER TABLE runs ADD COLUMN owner VARCHAR(64) NOT NULL DEFAULT '{LOCAL_OWNER}'",
    "spent": "ALTER TABLE runs ADD COLUMN spent TEXT",
}


def create_and_migrate(conn: Connection) -> None:
    """Create missing tables; add the columns a database from an older version lacks."""
    metadata.create_all(conn)
    columns = {c["name"] for c in inspect(conn).get_columns("runs")}
    for name, ddl in ADDED_COLUMNS.items():
        if name not in columns:
            conn.execute(text(ddl))
