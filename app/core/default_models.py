"""The models the server uses when no setting names one. Names and shutdown dates from OpenAI's pages, read
2026-12-07 (docs/models.md lists the page for each, and why each model was chosen)."""

DEFAULT_TEAM_MODEL = "gpt-6-luna"
DEFAULT_REALTIME_MODEL = "gpt-realtime-2.1"
DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"
DEFAULT_LIVE_MODEL = "gpt-live-1.1"
