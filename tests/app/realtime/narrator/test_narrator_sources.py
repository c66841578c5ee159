"""What the narrator is given to say about a checked answer: the sources the team read by name, and a warning,
first, about any it did not read, whose URL is gone from the answer (run_finished.source_entries)."""

from __future__ import annotations

from typing import Any

from app.realtime.progress import finished_line, spoken_answer

INVENTED = "https://invented.example/paris-weather"


def finished(**data: Any) -> dict[str, Any]:
    return {"type": "run_finished", "data": {"stop_reason": "completed", **data}}


def test_an_unverified_source_is_never_given_as_fact() -> None:
    event = finished(
        final_answer=f"Paris is 18°C and partly cloudy; a storm is due tonight ({INVENTED}).",
        source_entries=[
            {"url": "https://weather.example/paris", "title": "Paris weather now", "verified": True, "quote": "18°C"},
            {"url": INVENTED, "title": None, "verified": False, "quote": None},
        ],
    )
    line = finished_line(event)
    assert line.startswith("[RUN_FINISHED] (UNVERIFIED sources, which no tool of the team returned: invented.example.")
    assert "Do not present them, or anything only they support, as fact" in line
    assert INVENTED not in line and line.endswith("(Sources the team read: Paris weather now.)")
    spoken = spoken_answer(event)
    assert "UNVERIFIED" in spoken and "invented.example" in spoken and "https://" not in spoken
    long = finished(final_answer="Paris is mild. " * 300, source_entries=event["data"]["source_entries"])
    assert "UNVERIFIED" in spoken_answer(long)  # clipping keeps the warning


def test_answers_without_checked_sources_read_as_before() -> None:
    assert finished_line(finished(final_answer="18°C.")) == "[RUN_FINISHED] 18°C."
    read = [{"url": "https://weather.example/paris", "title": None, "verified": True, "quote": None}]
    assert finished_line(finished(final_answer="18°C.", source_entries=read)) == (
        "[RUN_FINISHED] 18°C. (Sources the team read: weather.example.)"
    )
