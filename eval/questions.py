"""The question-set format: one JSON object per line, read into frozen :class:`Question` records.

Each line of a question file holds one question::

    {"id": "s01", "question": "Who did Hasanov meet at IDEF 2025?",
     "answer": "Haluk Görgün", "aliases": ["Görgün"],
     "relevant_ids": ["idef-2025-hasanov-gorgun"], "relevant_urls": [],
     "choices": null, "as_of": null, "history": [],
     "unanswerable": false, "kind": "who"}

Fields (only ``id`` and ``question`` are required; the rest have the defaults shown):

- ``id`` (str): unique within the file.
- ``question`` (str): asked as written.
- ``answer`` (str, default ``""``): the expected answer; required unless ``unanswerable``.
- ``aliases`` (list of str, ``[]``): other accepted spellings of the answer.
- ``relevant_ids`` (list of str, ``[]``): ids of the articles that answer the question.
- ``relevant_urls`` (list of str, ``[]``): urls of such articles; the dataset loader maps
  them to ids through the collection's ``url`` field.
- ``choices`` (null or list of at least two str, ``null``): multiple-choice options; the
  answer must be one of them.
- ``as_of`` (null or ``"YYYY-MM-DD"``, ``null``): the date the question is asked.
- ``history`` (list of ``{"question", "answer"}``, ``[]``): earlier turns of a conversation.
- ``unanswerable`` (bool, ``false``): the collection does not hold the answer; the
  assistant should abstain.
- ``kind`` (str, ``""``): a free label for per-kind breakdowns ("who", "follow-up", ...).
  Two kinds mean something to the scoring: ``conflict`` (sources disagree on the answer) and
  ``update`` (a later report of the same source changed the figure).
- ``sides`` (list of str, ``[]``): for a ``conflict`` or ``update`` question, each report's
  value (at least two); the answer shows both sides when it carries a disagreement note of
  that kind and its text names every side. ``answer`` is one of them (for an update, the
  latest).

Unknown fields are an error, so a misspelt field is not silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

FIELDS = ("id", "question", "answer", "aliases", "relevant_ids", "relevant_urls", "choices", "as_of",
          "history", "unanswerable", "kind", "sides")
DIFFER_KINDS = ("conflict", "update")  # question kinds whose reports differ (``sides`` required)


class QuestionFormatError(ValueError):
    """A question record or file does not follow the format; the message says where and why."""


@dataclass(frozen=True)
class Question:
    """One evaluation question; see the module docstring for the meaning of each field."""

    id: str
    question: str
    answer: str = ""
    aliases: tuple[str, ...] = ()
    relevant_ids: tuple[str, ...] = ()
    relevant_urls: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    as_of: date | None = None
    history: tuple[tuple[str, str], ...] = field(default=())
    unanswerable: bool = False
    kind: str = ""
    sides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("id", "question"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise QuestionFormatError(f"{name!r} must be a non-empty string, got {value!r}")
        if not self.unanswerable and not self.answer.strip():
            raise QuestionFormatError("'answer' is required unless 'unanswerable' is true")
        if self.choices is not None:
            if len(self.choices) < 2:
                raise QuestionFormatError(f"'choices' needs at least two options, got {list(self.choices)!r}")
            if self.answer not in self.choices:
                raise QuestionFormatError(f"'answer' {self.answer!r} is not one of 'choices' {list(self.choices)!r}")
        if (self.kind in DIFFER_KINDS) != bool(self.sides) or len(self.sides) == 1:
            raise QuestionFormatError(f"a {'/'.join(DIFFER_KINDS)} question needs 'sides' (at least two values) "
                                      f"and no other kind has them; got kind {self.kind!r}, sides {list(self.sides)!r}")

    @property
    def answers(self) -> tuple[str, ...]:
        """The expected answer and its aliases (empty for an unanswerable question)."""
        return tuple(a for a in (self.answer, *self.aliases) if a.strip())

    @classmethod
    def from_dict(cls, d: dict) -> Question:
        """Read one record of the format above.

        Raises:
            QuestionFormatError: a field is unknown, missing or of the wrong type.
        """
        if not isinstance(d, dict):
            raise QuestionFormatError(f"expected a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise QuestionFormatError(f"unknown field(s) {unknown}; valid fields: {', '.join(FIELDS)}")
        choices = d.get("choices")
        as_of = d.get("as_of")
        try:
            as_of_date = date.fromisoformat(as_of) if as_of else None
        except (TypeError, ValueError):
            raise QuestionFormatError(f"'as_of' must be null or 'YYYY-MM-DD', got {as_of!r}") from None
        return cls(
            id=_string(d, "id"),
            question=_string(d, "question"),
            answer=_string(d, "answer", default=""),
            aliases=_strings(d, "aliases"),
            relevant_ids=_strings(d, "relevant_ids"),
            relevant_urls=_strings(d, "relevant_urls"),
            choices=None if choices is None else _strings(d, "choices"),
            as_of=as_of_date,
            history=_history(d.get("history") or []),
            unanswerable=_bool(d, "unanswerable"),
            kind=_string(d, "kind", default=""),
            sides=_strings(d, "sides"),
        )

    def to_dict(self) -> dict:
        """The record as written in a question file (``from_dict(q.to_dict()) == q``)."""
        return {
            "id": self.id, "question": self.question, "answer": self.answer, "aliases": list(self.aliases),
            "relevant_ids": list(self.relevant_ids), "relevant_urls": list(self.relevant_urls),
            "choices": None if self.choices is None else list(self.choices),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "history": [{"question": q, "answer": a} for q, a in self.history],
            "unanswerable": self.unanswerable, "kind": self.kind,
            **({"sides": list(self.sides)} if self.sides else {}),
        }


def _string(d: dict, name: str, *, default: str | None = None) -> str:
    value = d.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise QuestionFormatError(f"{name!r} must be a string, got {value!r}")
    return value


def _strings(d: dict, name: str) -> tuple[str, ...]:
    value = d.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QuestionFormatError(f"{name!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _bool(d: dict, name: str) -> bool:
    value = d.get(name, False)
    if not isinstance(value, bool):
        raise QuestionFormatError(f"{name!r} must be true or false, got {value!r}")
    return value


def _history(turns: object) -> tuple[tuple[str, str], ...]:
    ok = isinstance(turns, list) and all(
        isinstance(t, dict) and set(t) == {"question", "answer"} and all(isinstance(v, str) for v in t.values())
        for t in turns
    )
    if not ok:
        raise QuestionFormatError(f"'history' must be a list of {{'question', 'answer'}} objects, got {turns!r}")
    return tuple((t["question"], t["answer"]) for t in turns)


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """The JSON objects of a JSONL file with their 1-based line numbers (blank lines skipped).

    Raises:
        FileNotFoundError: no file at ``path``.
        QuestionFormatError: a line is not valid JSON (the message names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No question file at {path}")
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise QuestionFormatError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    return records


def load_questions(path: str | Path) -> list[Question]:
    """Read a question file in the format above, in file order.

    Raises:
        FileNotFoundError: no file at ``path``.
        QuestionFormatError: ``file:line: reason`` for the first bad line, a duplicate id
            or a file without questions.
    """
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for number, record in read_jsonl(path):
        try:
            q = Question.from_dict(record)
        except QuestionFormatError as exc:
            raise QuestionFormatError(f"{path}:{number}: {exc}") from None
        if q.id in first_line:
            raise QuestionFormatError(f"{path}:{number}: duplicate id {q.id!r} (first on line {first_line[q.id]})")
        first_line[q.id] = number
        questions.append(q)
    if not questions:
        raise QuestionFormatError(f"{path}: no questions")
    return questions
