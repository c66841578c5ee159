"""`research-team eval`: the questions file and how an answer is scored.

QUESTIONS.jsonl holds one JSON object a line: `id`, `question`, `answer`, optional `match`:
- `exact` (default): GAIA's normalised comparison: a number compares as a number (commas, units and $ or %
  signs aside), a list (commas or semicolons) item by item, a string without case, punctuation, articles and
  spacing. The team's whole answer is tried, then its first line and its last sentence (the team explains).
- `contains`: the expected answer, normalised, occurs in the normalised answer.
- `judge`: a model (EVAL_JUDGE_MODEL, through the openai SDK and OPENAI_BASE_URL) says CORRECT or INCORRECT;
  without that setting the question is scored `contains` and the result says so.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Match = Literal["exact", "contains", "judge"]
MATCHES: tuple[Match, ...] = ("exact", "contains", "judge")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class QuestionsError(ValueError):
    """The questions file cannot be used: the message names the line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str
    match: Match = "exact"


def load_questions(path: Path) -> list[Question]:
    questions: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise QuestionsError(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str | int | float) for k in ("id", "question")
        ):
            raise QuestionsError(f"{path}:{number}: needs at least 'id', 'question' and 'answer'")
        if "answer" not in item:
            raise QuestionsError(f"{path}:{number}: needs at least 'id', 'question' and 'answer'")
        match = item.get("match", "exact")
        if match not in MATCHES:
            raise QuestionsError(f"{path}:{number}: match must be one of {', '.join(MATCHES)}, not {match!r}")
        questions.append(Question(str(item["id"]), str(item["question"]), str(item["answer"]), match))
    if not questions:
        raise QuestionsError(f"{path}: no questions")
    if len({q.id for q in questions}) != len(questions):
        raise QuestionsError(f"{path}: ids must be unique")
    return questions


def normalize_text(text: str) -> str:
    text = text.lower().translate(str.maketrans("", "", string.punctuation + "“”‘’"))
    return " ".join(_ARTICLES.sub(" ", text).split())


def _number(text: str) -> float | None:
    cleaned = re.sub(r"[\s$€£%,]", "", text)
    cleaned = re.sub(r"(°[cf]?|[a-z]+)$", "", cleaned.lower())
    return float(cleaned) if _NUMBER.match(cleaned) else None


def exact_match(answer: str, expected: str) -> bool:
    """GAIA's scorer: numbers as numbers, lists item by item, strings normalised."""
    expected_number = _number(expected)
    if expected_number is not None:
        got = _number(answer)
        return got is not None and abs(got - expected_number) < 1e-9
    if any(sep in expected for sep in ",;"):
        want = [x.strip() for x in re.split(r"[,;]", expected)]
        got_items = [x.strip() for x in re.split(r"[,;]", answer)]
        return len(want) == len(got_items) and all(exact_match(g, w) for g, w in zip(got_items, want, strict=True))
    return normalize_text(answer) == normalize_text(expected)


def candidates(answer: str) -> list[str]:
    """The whole answer, its first line, and its first and last sentence: the team often explains its answer."""
    text = answer.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    picks = [text, *(lines[:1]), *(sentences[:1]), *(sentences[-1:])]
    picks += [p.rstrip(".") for p in picks]
    return list(dict.fromkeys(p for p in picks if p))


def score(answer: str, expected: str, match: Match) -> bool:
    """exact or contains (judge is scored by app/eval_judge.py)."""
    if not answer.strip():
        return False
    if match == "exact":
        return any(exact_match(c, expected) for c in candidates(answer))
    want = normalize_text(expected)
    return bool(want) and f" {want} " in f" {normalize_text(answer)} "


async def judge(
    question: Question, answer: str, *, model: str, api_key: str | None, base_url: str | None
) -> tuple[bool, str]:
    """(correct, the judge's verdict line) from the judge model, through the openai SDK."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=api_key or "unset", base_url=base_url, max_retries=2, timeout=60)
    try:
        reply = await client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": JUDGE_PROMPT},
                {
                    "role": "user",
                    "content": f"Question: {question.question}\nReference answer: {question.answer}\n"
                    f"Answer to grade: {answer}",
                },
            ],
        )
    finally:
        await client.close()
    verdict = (reply.choices[0].message.content or "").strip()
    return verdict.upper().startswith("CORRECT"), verdict[:200]


JUDGE_PROMPT = (
    "You grade answers to research questions against a reference answer. Reply CORRECT if the answer states "
    "the reference answer (other wording, extra explanation and equivalent units are fine) and does not "
    "contradict it, else INCORRECT; then one short reason on the same line."
)


def as_dict(question: Question) -> dict[str, Any]:
    return {"id": question.id, "question": question.question, "answer": question.answer, "match": question.match}
