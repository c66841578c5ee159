"""The narrator's logic against an in-memory Realtime connection (tests/support/voice/narrator_doubles.Harness; the
network fake is in test_narrator.py).

Every event the narrator sends is validated with the openai SDK's own RealtimeClientEvent type.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.support.scripted import PARIS_ANSWER, paris_script
from tests.support.voice.narrator_doubles import UNIT_SECRET, Harness, function_call, outputs


async def test_session_update_is_ga_shaped(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        update = h.conn.sent[0]
        assert update["type"] == "session.update" and update["session"]["type"] == "realtime"
        assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert update["session"]["audio"]["input"]["turn_detection"]["create_response"] is False
        assert {t["name"] for t in update["session"]["tools"]} == {
            "ask_team",
            "team_status",
            "pause_team",
            "resume_team",
            "cancel_team",
        }


async def test_ask_team_is_answered_then_answer_spoken(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        await h.server({"type": "input_audio_buffer.committed", "item_id": "item_u1"})
        await h.finish_response(output=[])  # the reply to the person's turn: it called ask_team (below)
        await h.server(function_call("ask_team", {"task": "What's the weather in Paris?"}))
        answered = outputs(h.conn)["call_1"]
        assert answered["ok"] is True and answered["status"] == "started"
        await h.conn.wait_sent(
            lambda e: e["type"] == "response.create" and e["response"]["metadata"]["purpose"] == "tool_result"
        )
        await h.finish_response()
        progress = await h.conn.wait_sent(
            lambda e: (
                e["type"] == "conversation.item.create"
                and e["item"].get("role") == "system"
                and "searching the web" in e["item"]["content"][0]["text"]
            )
        )
        assert progress["item"]["content"][0]["text"].startswith("[TEAM Researcher]")
        final_item = await h.conn.wait_sent(
            lambda e: (
                e["type"] == "conversation.item.create"
                and e["item"].get("content", [{}])[0].get("text", "").startswith("[RUN_FINISHED]")
            ),
            timeout=10,
        )
        assert PARIS_ANSWER in final_item["item"]["content"][0]["text"]
        final = await h.conn.wait_sent(
            lambda e: e["type"] == "response.create" and e["response"]["metadata"]["purpose"] == "final_answer"
        )
        assert final["response"]["tool_choice"] == "none"
        # Progress items never ask for a response: every response.create is tool_result, reply or final_answer.
        purposes = [e["response"]["metadata"]["purpose"] for e in h.conn.of_type("response.create")]
        assert purposes == ["reply", "tool_result", "final_answer"]


async def test_only_one_response_in_flight(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        await h.narrator.text_in("hello")
        await h.narrator.text_in("are you there?")
        await h.server({"type": "input_audio_buffer.committed", "item_id": "item_u2"})
        assert len(h.conn.of_type("response.create")) == 1  # the others wait for response.done
        await h.finish_response()
        assert len(h.conn.of_type("response.create")) == 2
        await h.finish_response()
        await h.finish_response()
        assert len(h.conn.of_type("response.create")) == 3
        assert h.narrator.gate.pending == 0


async def test_failed_final_answer_is_retried(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        await h.team.submit_task("Weather in Paris?")
        await h.conn.wait_sent(
            lambda e: e["type"] == "response.create" and e["response"]["metadata"]["purpose"] == "final_answer",
            timeout=10,
        )
        server_error = {"type": "server_error", "code": None, "message": "The server had an error."}
        await h.finish_response(status="failed", error=server_error)
        await h.conn.wait_sent(lambda e: len(h.conn.of_type("response.create")) == 2)
        retry = h.conn.of_type("response.create")[-1]
        assert retry["response"]["metadata"]["purpose"] == "final_answer"
        await h.finish_response()
        assert [o.status for o in h.narrator.gate.outcomes] == ["failed", "completed"]


async def test_model_pause_refused_unless_person_spoke(tmp_path: Path) -> None:
    async with Harness(tmp_path, paris_script(researcher_delay=0.5)) as h:
        await h.server(function_call("ask_team", {"task": "Weather in Paris?"}, call_id="call_a"))
        await h.server(function_call("pause_team", {}, call_id="call_p"))
        refused = outputs(h.conn)["call_p"]
        assert refused["ok"] is False and refused["refused"].startswith("not paused: the person did not ask")
        await h.server(function_call("cancel_team", {}, call_id="call_c"))
        assert outputs(h.conn)["call_c"]["refused"].startswith("not cancelled")
        assert h.team.state.value == "running"
        await h.server({"type": "input_audio_buffer.committed", "item_id": "item_stop"})  # the person speaks
        await h.server(function_call("pause_team", {}, call_id="call_p2"))
        assert outputs(h.conn)["call_p2"] == {"ok": True, "status": "pausing", "run_id": h.team.run_id}


async def test_unknown_tool_and_bad_arguments_get_error_outputs(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        await h.server(function_call("send_to_nested", {"text": "hi"}, call_id="call_u"))
        await h.server(function_call("ask_team", "{not json", call_id="call_b"))
        await h.server(function_call("ask_team", {"question": "x"}, call_id="call_m"))
        await h.server(function_call("ask_team", {"task": "x"}, call_id="call_u"))  # same call id again: once
        got = outputs(h.conn)
        assert got["call_u"]["error"].startswith("Unknown tool 'send_to_nested'")
        assert got["call_b"]["error"] == "The arguments are not a JSON object."
        assert "non-empty 'task'" in got["call_m"]["error"]
        assert len([e for e in h.conn.of_type("conversation.item.create") if e["item"].get("call_id") == "call_u"]) == 1


async def test_barge_in_truncates_to_played_ms(tmp_path: Path) -> None:
    import base64

    async with Harness(tmp_path) as h:
        audio = base64.b64encode(b"\x00\x00" * 24_000).decode()  # 1000 ms of PCM16 at 24 kHz
        await h.server({"type": "response.output_audio.delta", "item_id": "item_a", "delta": audio})
        assert {"type": "audio.start", "item_id": "item_a"} in h.browser
        await h.server({"type": "input_audio_buffer.speech_started", "item_id": "item_u", "audio_start_ms": 10})
        assert {"type": "playback.stop"} in h.browser
        await h.narrator.playback("item_a", 420)
        truncate = h.conn.of_type("conversation.item.truncate")
        assert truncate == [
            {"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 420}
        ]
        await h.narrator.playback("item_a", 5000)  # reported twice or past the end: never truncated again
        assert len(h.conn.of_type("conversation.item.truncate")) == 1


async def test_reconnect_restores_session_and_context(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        await h.server(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "u",
                "content_index": 0,
                "transcript": "What's the weather in Paris?",
            }
        )
        first = h.conn
        await first.close()
        for _ in range(100):
            if len(h.connections) == 2 and h.narrator.connections == 2:
                break
            await asyncio.sleep(0.02)
        second = h.conn
        assert second is not first
        assert second.sent[0]["type"] == "session.update"
        context = second.sent[1]["item"]["content"][0]["text"]
        assert context.startswith("[CONTEXT]") and "What's the weather in Paris?" in context


async def test_browser_log_masks_secrets_and_audio(tmp_path: Path) -> None:
    async with Harness(tmp_path) as h:
        await h.server(
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "code": "x", "message": "bad key " + UNIT_SECRET},
            }
        )
        await h.narrator.audio_in(b"\x01\x00" * 480)
        await h.narrator.audio_in(b"\x01\x00" * 480)
        await h.server({"type": "rate_limits.updated", "rate_limits": []})
        rows = [json.loads(m) for m in h.browser if isinstance(m, str) and '"realtime.log"' in m]
        text = json.dumps(rows)
        assert UNIT_SECRET not in text and "AQAB" not in text  # no secret, no base64 audio
        # Audio frames become one summary row, written before the next event so the order stays true.
        names = [r["name"] for r in rows]
        assert names[names.index("error") :] == ["error", "input_audio_buffer.append", "rate_limits.updated"]
        append = rows[names.index("input_audio_buffer.append")]
        assert append["dir"] == "sent" and append["data"] == {
            "type": "input_audio_buffer.append",
            "frames": 2,
            "audio_bytes": 1920,
        }
        errors = [m for m in h.browser if isinstance(m, dict) and m.get("type") == "error"]
        assert errors and "sk-unit" not in errors[0]["message"]


async def test_a_long_run_gets_at_most_one_spoken_progress_update(tmp_path: Path) -> None:
    async with Harness(
        tmp_path, paris_script(researcher_delay=0.4), progress_update_after_s=0.1, max_progress_updates=1
    ) as h:
        await h.team.submit_task("Weather in Paris?")
        progress = await h.conn.wait_sent(
            lambda e: e["type"] == "response.create" and e["response"]["metadata"]["purpose"] == "progress"
        )
        assert progress["response"]["tool_choice"] == "none"
        await h.finish_response()
        await h.conn.wait_sent(
            lambda e: e["type"] == "response.create" and e["response"]["metadata"]["purpose"] == "final_answer",
            timeout=10,
        )
        purposes = [e["response"]["metadata"]["purpose"] for e in h.conn.of_type("response.create")]
        assert purposes == ["progress", "final_answer"]
