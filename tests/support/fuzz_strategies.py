"""Hypothesis strategies for WebSocket frames of /ws/team and /ws/voice, each with the answer it must get.

A `Frame` is what the client sends plus `outcomes`: the connection replies the server may give, written from
the protocol (app/core/protocol.py, app/core/voice_protocol.py), not from the server's code. An outcome is
"error:<code>", "pong", "status", or "none" (a valid frame with no reply of its own). Every frame needs either
exactly one reply or none, so a batch of frames can be matched with its replies in order.

The /ws/team mix holds no valid task, so the session stays idle and every answer is determined; the /ws/voice
mix holds no valid typed text (it would start a team run through the narrator). Strategies are built once at
import: building them inside composites makes hypothesis several times slower.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

MAX_FRAME = 64 * 1024  # UTF-8 bytes, on both sockets (app/api/ws_edge.py decodes for both)
MAX_TASK_CHARS = 8000
MAX_ID_CHARS = 128
MAX_AUDIO_BYTES = 64 * 1024
MAX_VOICE_TEXT = 8000
PYTHON_INT_DIGITS = 4300  # json.loads refuses longer integers (CPython's int/str conversion limit)

TEAM_TYPES = frozenset({"task", "user_message", "pause", "resume", "cancel", "reset", "status", "ping"})
VOICE_TYPES = frozenset({"text", "playback", "team.pause", "team.resume", "team.cancel", "ping"})
NONE = frozenset({"none"})
PONG = frozenset({"pong"})
MISSING = object()  # a field left out


def team_size(text: str) -> int:
    return len(text.encode("utf-8"))  # both sockets limit UTF-8 bytes


voice_size = team_size


@dataclass(frozen=True)
class Frame:
    data: str | bytes
    kind: str  # which generator made it, and how (for failure messages)
    outcomes: frozenset[str]
    echo_id: str | None = None  # /ws/team: the id the reply must carry

    @property
    def needs_reply(self) -> bool:
        return self.outcomes != NONE

    def shown(self, limit: int = 300) -> str:
        return f"{self.kind} ({len(self.data)}): {self.data[:limit]!r}" + (" ..." if len(self.data) > limit else "")


Mix = list[tuple[st.SearchStrategy[Frame], int]]  # strategies, and how many frames of each per example


def error(*codes: str) -> frozenset[str]:
    return frozenset(f"error:{code}" for code in codes)


def labelled(**options: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    """(name, value) from one of the named strategies."""
    return st.one_of(*(strategy.map(_named(name)) for name, strategy in options.items()))


def _named(name: str) -> Callable[[Any], tuple[str, Any]]:
    return lambda value: (name, value)


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)  # ASCII: lone surrogates travel as \ud800 escapes


def build(fields: dict[str, Any], extra: dict[str, Any]) -> str:
    return dumps({**extra, **{k: v for k, v in fields.items() if v is not MISSING}})


# ---- JSON values ----------------------------------------------------------------------------------------
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
text_with_surrogate = st.builds(lambda a, s, b: a + s + b, unicode_text, st.characters(categories=["Cs"]), unicode_text)
any_text = st.one_of(unicode_text, unicode_text, text_with_surrogate)
huge_positive = st.integers(1, PYTHON_INT_DIGITS).map(lambda digits: 10 ** (digits - 1))
numbers = st.one_of(
    st.integers(), huge_positive, huge_positive.map(lambda n: -n), st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.one_of(st.none(), st.booleans(), numbers, any_text)
shallow = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(any_text, scalars, max_size=2))
json_values = st.one_of(scalars, shallow, st.lists(shallow, max_size=3))  # deeper: see deep_nesting
non_string_values = st.one_of(
    st.booleans(), numbers, st.lists(shallow, max_size=3), st.dictionaries(any_text, shallow, max_size=2)
)
extras = st.one_of(st.just({}), st.dictionaries(any_text.map(lambda key: "x-" + key), json_values, max_size=2))
plain_ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=MAX_ID_CHARS)
long_ids = st.integers(MAX_ID_CHARS + 1, 2000).map(lambda n: "i" * n)
blank = st.text(st.sampled_from(" \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2000\u2028\u3000"), min_size=1, max_size=20)
wide_chars = st.sampled_from("yé€😀")  # 1 to 4 bytes in UTF-8


def repeated(min_chars: int, max_chars: int) -> st.SearchStrategy[str]:
    return st.builds(lambda ch, n: ch * n, wide_chars, st.integers(min_chars, max_chars))


def bad_text_values(max_chars: int) -> st.SearchStrategy[tuple[str, Any]]:
    """A required text field that is missing, not a string, empty, blank, too long, or not valid Unicode."""
    return labelled(
        missing=st.just(MISSING),
        wrong_type=non_string_values,
        null=st.none(),
        empty=st.just(""),
        blank=blank,
        too_long=repeated(max_chars + 1, 12_000),
        surrogate=text_with_surrogate.map(lambda t: "Weather in Paris? " + t),
    )


unknown_types = st.one_of(
    non_string_values,
    any_text.filter(lambda t: t not in TEAM_TYPES | VOICE_TYPES),
    st.sampled_from(
        [
            "PING",
            " ping",
            "ping ",
            "Task",
            "team.PAUSE",
            "team",
            "team.",
            "status\x00",
            "tool.output",
            "user-message",
            "pause!",
            "text ",
            "play back",
            "session.update",
            "input_audio_buffer.append",
        ]
    ),
)


# ---- generic frames -------------------------------------------------------------------------------------
def garbage_text(json_error: frozenset[str], bad_shape: frozenset[str]) -> st.SearchStrategy[Frame]:
    """Random text, and random text from JSON's own alphabet: not JSON, or JSON that is not a message."""
    json_alphabet = st.sampled_from('{}[]":,0123456789.eE+-truefalsnNI \\/u\t')
    texts = st.one_of(st.text(max_size=200), st.text(json_alphabet, max_size=60))

    def classify(text: str) -> Frame | None:
        try:
            value = json.loads(text)
        except ValueError:
            return Frame(text, "random_text", json_error)
        if isinstance(value, dict) and "type" in value:
            return None
        return Frame(text, "random_json", bad_shape)

    return texts.map(classify).filter(lambda frame: frame is not None)  # type: ignore[return-value]


def not_an_object(codes: frozenset[str]) -> st.SearchStrategy[Frame]:
    return st.one_of(scalars, st.lists(json_values, max_size=5)).map(
        lambda value: Frame(dumps(value), "json_not_object", codes)
    )


def nested(depth: int, kind: str) -> str:
    return "[" * depth + "1" + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


def deep_nesting(shape_error: frozenset[str]) -> st.SearchStrategy[Frame]:
    """Nested arrays or objects, alone or as an ignored field of a ping: fine up to some depth, then refused."""

    def make(depth: int, kind: str, in_ping: bool) -> Frame:
        if in_ping:
            return Frame(
                '{"type": "ping", "x-deep": ' + nested(depth, kind) + "}", f"deep_ping_{depth}", PONG | shape_error
            )
        return Frame(nested(depth, kind), f"deep_{depth}", shape_error)

    depths = st.one_of(st.integers(1, 60), st.integers(500, 1500), st.integers(1500, 12_000))
    return st.builds(make, depths, st.sampled_from(["list", "object"]), st.booleans())


def too_many_digits(codes: frozenset[str]) -> st.SearchStrategy[Frame]:
    """An integer longer than Python's limit inside an otherwise valid ping: json.loads refuses it."""
    return st.integers(PYTHON_INT_DIGITS + 1, 12_000).map(
        lambda n: Frame('{"type": "ping", "x-n": 1' + "0" * n + "}", "too_many_digits", codes)
    )


def size_limited(frame: Frame, size: Callable[[str], int]) -> Frame:
    """Over the size limit, a text frame gets frame_too_large, whatever it holds."""
    if isinstance(frame.data, str) and size(frame.data) > MAX_FRAME:
        return replace(frame, kind=frame.kind + "/too_large", outcomes=error("frame_too_large"), echo_id=None)
    return frame


# ---- /ws/team -------------------------------------------------------------------------------------------
TEAM_REFUSED = {"pause": "no_active_run", "cancel": "no_active_run", "resume": "not_paused"}
TEAM_ACCEPTED = {"ping": PONG, "status": frozenset({"status"}), "reset": NONE}
team_command_kinds = st.sampled_from(sorted([*TEAM_REFUSED, *TEAM_ACCEPTED]))
good_ids = labelled(absent=st.just(MISSING), null=st.none(), plain=plain_ids)
bad_ids = labelled(too_long=long_ids, wrong_type=non_string_values, surrogate=text_with_surrogate)
task_kinds = st.sampled_from(["task", "user_message"])
task_keys = st.sampled_from(["text", "text", "content", "task"])  # the accepted aliases
bad_task_texts = bad_text_values(MAX_TASK_CHARS)


def echo(id_value: Any) -> str | None:
    """The id a /ws/team reply must echo: a non-empty string id (cut to 128), when it can be compared."""
    if not isinstance(id_value, str) or not id_value:
        return None
    try:
        id_value.encode("utf-8")
    except UnicodeEncodeError:
        return None  # not valid Unicode: the server may replace the lone surrogate; it must still answer
    return id_value[:MAX_ID_CHARS]


@st.composite
def team_command(draw: st.DrawFn) -> Frame:
    """A control command (never a task), valid or with a bad `id`, with unknown fields to be ignored."""
    kind = draw(team_command_kinds)
    id_ok = draw(st.booleans())
    id_label, id_value = draw(good_ids if id_ok else bad_ids)
    if not id_ok:
        outcomes = error("invalid_message")
    else:
        outcomes = error(TEAM_REFUSED[kind]) if kind in TEAM_REFUSED else TEAM_ACCEPTED[kind]
    data = build({"type": kind, "id": id_value}, draw(extras))
    return Frame(data, f"command_{kind}_id_{id_label}", outcomes, echo(id_value))


@st.composite
def team_bad_task(draw: st.DrawFn) -> Frame:
    kind, key = draw(task_kinds), draw(task_keys)
    flaw, text = draw(bad_task_texts)
    id_value = draw(st.one_of(st.just(MISSING), plain_ids))
    data = build({"type": kind, key: text, "id": id_value}, draw(extras))
    return Frame(data, f"task_{flaw}", error("invalid_message"), echo(id_value))


@st.composite
def team_type_problems(draw: st.DrawFn) -> Frame:
    """Objects without a usable `type`: missing, null, unknown, or not a string."""
    label, value = draw(labelled(missing=st.just(MISSING), null=st.none(), unknown=unknown_types))
    outcomes = error("unknown_type") if label == "unknown" else error("invalid_message")
    return Frame(build({"type": value}, draw(extras)), f"type_{label}", outcomes)


def team_big_frames() -> st.SearchStrategy[Frame]:
    """Frames around the 64 KiB limit (UTF-8, sent unescaped): what they hold decides below it, size above."""
    text = repeated(MAX_FRAME // 4 - 100, 40_000)
    return st.one_of(
        text.map(
            lambda t: Frame(
                json.dumps({"type": "task", "text": t}, ensure_ascii=False), "big_task", error("invalid_message")
            )
        ),
        text.map(lambda t: Frame(t, "big_garbage", error("invalid_json"))),
    )


def team_mix() -> Mix:
    """Per 18 frames: 4 commands, 3 bad tasks, 3 bad types, 2 random texts, one of each other kind."""
    return [
        (team_command(), 4),
        (team_bad_task(), 3),
        (team_type_problems(), 3),
        (garbage_text(error("invalid_json"), error("invalid_message")), 2),
        (not_an_object(error("invalid_message")), 1),
        (st.binary(max_size=300).map(lambda b: Frame(b, "binary", error("binary_not_supported"))), 1),
        (
            st.integers(MAX_FRAME - 10, MAX_FRAME + 10).map(
                lambda n: Frame(b"\x01" * n, "binary_large", error("binary_not_supported"))
            ),
            1,
        ),
        (deep_nesting(error("invalid_message")), 1),
        (too_many_digits(error("invalid_json")), 1),
        (team_big_frames(), 1),
    ]


# ---- /ws/voice ------------------------------------------------------------------------------------------
VOICE_REFUSED = {"team.pause": "no_active_run", "team.cancel": "no_active_run", "team.resume": "not_paused"}
voice_command_kinds = st.sampled_from(sorted([*VOICE_REFUSED, "ping"]))
bad_voice_texts = bad_text_values(MAX_VOICE_TEXT)
QUIET_WAVE = b"".join(
    int(200 * math.sin(i / 7)).to_bytes(2, "little", signed=True) for i in range(MAX_AUDIO_BYTES // 2 + 200)
)


def pcm(size: int, shift: int) -> bytes:
    """`size` bytes of a quiet PCM16 sine wave, shifted by `shift` samples."""
    return QUIET_WAVE[2 * shift : 2 * shift + size]


def voice_audio() -> st.SearchStrategy[Frame]:
    """PCM16 frames: valid (even length, at most 64 KiB), odd length, or too large."""
    valid = st.one_of(
        st.integers(1, 1000), st.integers(1, 1000), st.integers(MAX_AUDIO_BYTES // 2 - 5, MAX_AUDIO_BYTES // 2)
    )
    odd = st.one_of(st.integers(0, 500), st.integers(MAX_AUDIO_BYTES // 2 - 5, MAX_AUDIO_BYTES // 2)).map(
        lambda n: 2 * n + 1
    )
    shifts = st.integers(0, 99)
    return st.one_of(
        st.builds(lambda n, shift: Frame(pcm(2 * n, shift), "audio", NONE), valid, shifts),
        st.builds(lambda n, shift: Frame(pcm(n, shift), "audio_odd", error("invalid_audio")), odd, shifts),
        st.binary(min_size=1, max_size=301)
        .map(lambda b: b if len(b) % 2 else b[1:])
        .map(lambda b: Frame(b, "audio_random_odd", error("invalid_audio"))),
        st.integers(MAX_AUDIO_BYTES + 1, 70_000).map(
            lambda n: Frame(b"\x00" * n, "audio_too_large", error("invalid_audio"))
        ),
    )


@st.composite
def voice_bad_text(draw: st.DrawFn) -> Frame:
    flaw, text = draw(bad_voice_texts)
    return Frame(build({"type": "text", "text": text}, draw(extras)), f"text_{flaw}", error("invalid_message"))


item_ids = labelled(
    ok=plain_ids, missing=st.just(MISSING), empty=st.just(""), too_long=long_ids, wrong_type=non_string_values
)
played_ms = labelled(
    ok=st.one_of(st.integers(0, 10**6), huge_positive),
    missing=st.just(MISSING),
    negative=st.integers(max_value=-1),
    wrong_type=st.one_of(  # not an integer even in pydantic's lax mode
        st.none(),
        st.lists(scalars, min_size=1, max_size=2),
        st.dictionaries(any_text, scalars, max_size=2),
        st.floats(0, 1e6).filter(lambda f: not f.is_integer()),
        st.text("abcxyz", min_size=1, max_size=8),
    ),
)


@st.composite
def voice_playback(draw: st.DrawFn) -> Frame:
    """Playback reports: valid ones (for items never played: nothing to do) and broken ones."""
    (item_label, item_id), (ms_label, ms) = draw(item_ids), draw(played_ms)
    if draw(st.booleans()):
        item_label, item_id, ms_label, ms = "ok", draw(plain_ids), "ok", draw(st.integers(0, 10**6))
    outcomes = NONE if item_label == ms_label == "ok" else error("invalid_message")
    data = build({"type": "playback", "item_id": item_id, "played_ms": ms}, draw(extras))
    return Frame(data, f"playback_item_{item_label}_ms_{ms_label}", outcomes)


@st.composite
def voice_command(draw: st.DrawFn) -> Frame:
    kind = draw(voice_command_kinds)
    outcomes = PONG if kind == "ping" else error(VOICE_REFUSED[kind])
    return Frame(build({"type": kind}, draw(extras)), f"command_{kind}", outcomes)


def voice_mix() -> Mix:
    """Per 20 frames: 5 audio, 3 commands, 2 bad texts, 2 playbacks, 2 bad types, 2 random texts, one of each
    other kind."""
    big_text = repeated(MAX_FRAME - 100, MAX_FRAME + 20_000).map(
        lambda t: Frame(
            json.dumps({"type": "text", "text": t}, ensure_ascii=False), "big_text", error("invalid_message")
        )
    )
    return [
        (voice_audio(), 5),
        (voice_command(), 3),
        (voice_bad_text(), 2),
        (voice_playback(), 2),
        (team_type_problems(), 2),  # one decoder for both sockets: the same answers
        (garbage_text(error("invalid_json"), error("invalid_message")), 2),
        (not_an_object(error("invalid_message")), 1),
        (deep_nesting(error("invalid_message")), 1),
        (too_many_digits(error("invalid_json")), 1),
        (big_text, 1),
    ]


# ---- drawing ---------------------------------------------------------------------------------------------
FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def draw_frames(mix: Mix, count: int, size: Callable[[str], int]) -> list[Frame]:
    """`count` frames drawn by hypothesis in the proportions of `mix`, deterministically (derandomize: the same
    frames on every run). `size` measures a text frame against the 64 KiB limit."""
    parts = [strategy for strategy, weight in mix for _ in range(weight)]
    example = st.tuples(*parts).flatmap(lambda frames: st.permutations(frames))
    frames: list[Frame] = []

    @settings(FUZZ_SETTINGS, max_examples=-(-count // len(parts)))
    @given(example)
    def collect(batch: list[Frame]) -> None:
        frames.extend(size_limited(frame, size) for frame in batch)

    collect()
    return frames[:count]
