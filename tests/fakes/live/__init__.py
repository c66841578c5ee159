"""The fake GPT-Live API: LiveFake (fake.py) for tests, one /v1/live/sessions WebSocket (session.py), and its client
and server events checked against `openai.types.live` (validation.py)."""
