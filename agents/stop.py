"""Why a run ended, and which termination condition fired: one vocabulary for the team, the session, the store
and the published protocol (app/core/protocol.py imports these; nothing else spells them)."""

from __future__ import annotations

from enum import StrEnum


class StopReason(StrEnum):
    """`run_finished.stop_reason`: how a run ended."""

    COMPLETED = "completed"  # the Manager gave its final answer
    MAX_MESSAGES = "max_messages"
    TIMEOUT = "timeout"
    BUDGET = "budget"  # the run's budget of model calls / tokens / USD was spent
    NO_PROGRESS = "no_progress"  # the Manager kept answering without delegating or finishing
    CANCELLED = "cancelled"
    RESET = "reset"
    CLOSED = "closed"  # the session was closed (idle, shutdown)
    ERROR = "error"  # a model, tool or store failure
    STOPPED = "stopped"  # run_stream() ended for no reason we recorded
    INTERRUPTED = "interrupted"  # the server stopped while the run was active


class TerminationLabel(StrEnum):
    """Which of the team's termination conditions fired (agents/manager/termination.py records these)."""

    COMPLETED = "completed"
    MAX_MESSAGES = "max_messages"
    TIMEOUT = "timeout"
    BUDGET = "budget"
    NO_PROGRESS = "no_progress"
    PAUSED = "paused"


# The stop reason each label ends a run with, in order of precedence (first match wins); PAUSED is not an end.
LABEL_PRECEDENCE: tuple[tuple[TerminationLabel, StopReason], ...] = (
    (TerminationLabel.COMPLETED, StopReason.COMPLETED),
    (TerminationLabel.BUDGET, StopReason.BUDGET),
    (TerminationLabel.NO_PROGRESS, StopReason.NO_PROGRESS),
    (TerminationLabel.MAX_MESSAGES, StopReason.MAX_MESSAGES),
    (TerminationLabel.TIMEOUT, StopReason.TIMEOUT),
)


def stop_reason_for(labels: set[TerminationLabel] | set[str]) -> StopReason | None:
    """The run's stop reason for the labels that fired, or None when it only paused (or nothing fired)."""
    for label, reason in LABEL_PRECEDENCE:
        if label in labels:
            return reason
    return None


KEEPS_STATE = {
    StopReason.COMPLETED,
    StopReason.MAX_MESSAGES,
    StopReason.TIMEOUT,
    StopReason.STOPPED,
    StopReason.BUDGET,
    StopReason.NO_PROGRESS,
}  # ends after which the team's memory is kept
