"""The fake Realtime API: RealtimeFake (fake.py, records.py) for tests; one WebSocket per connection (socket.py,
items.py, responses.py, connection.py); streamed responses (stream.py) planned by a brain (brain.py); the session
config (session_config.py), client secrets, validation against the SDK types, and recorded sessions."""
