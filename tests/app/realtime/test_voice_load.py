"""A small run of bench/voice_load.py: 3 voice pages x 2 s of microphone audio against the app in its own
process and the fake Realtime server. No audio frame may be dropped either way, no realtime event rejected,
and every page must hear the team's answer. The full bench: .venv/bin/python -m bench.voice_load
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.server_process import ServerProcess
from bench.voice_load import LoadConfig, make_fake, report, run_load


async def test_voice_audio_both_ways_without_dropped_frames(tmp_path: Path) -> None:
    config = LoadConfig(sessions=3, seconds=2.0, answer_timeout_s=15.0)
    async with make_fake(config) as fake, ServerProcess(tmp_path, openai_base_url=fake.base_url) as server:
        result = await run_load(server.ws_url, fake, config, usage=server.usage)
    summary = "\n".join(report(result))
    assert result.problems == [] and result.rejected == 0 and result.violations == 0, summary
    assert [len(s.sessions) for s in result.sessions] == [1, 1, 1], summary  # one realtime session each
    for session in result.sessions:
        assert session.frames_sent == config.frames and session.missing_seqs == [], summary
        assert session.appends_received == session.frames_sent, summary
        assert session.bytes_received_by_fake == session.bytes_sent == config.frames * config.frame_bytes, summary
        assert session.deltas_sent == session.frames_received > 0, summary
        assert session.bytes_received == session.bytes_sent_by_fake, summary
        assert session.answer_heard and session.errors == [], summary
    assert result.dropped_in == result.dropped_out == 0 and result.answers_heard == 3
    assert result.server_cpu_s is not None and result.server_cpu_s > 0


async def test_gpt_live_audio_both_ways_without_dropped_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on GPT-Live (bench/voice_load_live.py): the server process inherits VOICE_API=live."""
    from bench.voice_load_live import make_live_fake, run_live_load

    monkeypatch.setenv("VOICE_API", "live")
    config = LoadConfig(sessions=3, seconds=2.0, answer_timeout_s=15.0)
    async with (
        make_live_fake(config) as fake,
        ServerProcess(tmp_path, model_delay=0.3, openai_base_url=fake.base_url) as server,
    ):
        result = await run_live_load(server.ws_url, fake, config, usage=server.usage)
    summary = "\n".join(report(result))
    assert result.problems == [] and result.rejected == 0, summary
    assert [len(s.sessions) for s in result.sessions] == [1, 1, 1], summary  # one Live session each
    for session in result.sessions:
        assert session.frames_sent == config.frames and session.missing_seqs == [], summary
        assert session.bytes_received_by_fake == session.bytes_sent, summary
        assert session.deltas_sent == session.frames_received > 0, summary
        assert session.bytes_received == session.bytes_sent_by_fake, summary
        assert session.answer_heard and session.errors == [], summary
