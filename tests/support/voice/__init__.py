"""What the voice tests share: a browser on /ws/voice and the app wired to the fake (client.py), a WebRTC peer
(webrtc_peer.py), the SDK's Realtime client on the fake (realtime_client.py), and doubles for the narrator's parts
(narrator_doubles.py)."""
