"""What the fake protocols share: PCM16 audio and an energy VAD, ids, Bearer auth, the SDK-type checker, waiting."""
