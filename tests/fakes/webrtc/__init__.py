"""WebRTC calls to the fake: Realtime calls (calls.py), GPT-Live calls (live_calls.py), PCM16 in and out of aiortc
(audio.py)."""
