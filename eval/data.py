"""Evaluation datasets: a collection of articles plus the questions asked of it.

``--dataset sample`` is the bundled sample (``index/sample/articles.jsonl`` with
``eval/datasets/sample.jsonl``); ``--dataset conversations`` asks the same articles the
scripted conversations of ``eval/datasets/conversations.jsonl`` and ``--dataset
conversations-heldout`` those of ``eval/datasets/conversations-heldout.jsonl`` (written before
tuning, tuned on since) and ``--dataset conversations-heldout2`` those of
``eval/datasets/conversations-heldout2.jsonl`` (tuned on since) and ``--dataset
conversations-heldout3`` those of ``eval/datasets/conversations-heldout3.jsonl`` (its failures
were read when the follow-up answers changed) and ``--dataset conversations-heldout4`` to
``conversations-heldout6`` those of ``eval/datasets/conversations-heldout4.jsonl`` to
``conversations-heldout6.jsonl`` (never tuned on; the fifth and sixth were written for the fifth
pass, see docs/records/evaluation.md).
``--dataset PATH`` is a folder holding ``articles.jsonl`` and ``questions.jsonl``; the
questions are either in Newsdesk's own format (:mod:`eval.questions`) or in the RealTimeQA quiz format of
``../shared/data/realtimeqa-2023q1`` (recognised by its ``gold_urls`` field).

A quiz record's ``evidence`` is the quiz's own justification of the answer: it is never
read, so nothing derived from it can reach the assistant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from eval.questions import Question, QuestionFormatError, load_questions, read_jsonl
from index.records import stable_id  # the loader's id rule, to match urls to the ids it gives
from rag.assistant import SAMPLE_ARTICLES

SAMPLE_QUESTIONS = Path(__file__).parent / "datasets" / "sample.jsonl"
# Scripted conversations over the sample articles: topic changes and true follow-ups.
CONVERSATIONS = Path(__file__).parent / "datasets" / "conversations.jsonl"
# More of them, written before the topic-change rule was tuned and never tuned on.
CONVERSATIONS_HELDOUT = Path(__file__).parent / "datasets" / "conversations-heldout.jsonl"
# Written after that set had been looked at, before the rule was changed again; its failures
# were read when the trained decision replaced the rule.
CONVERSATIONS_HELDOUT2 = Path(__file__).parent / "datasets" / "conversations-heldout2.jsonl"
# Written blind (by someone who had not read how the decision is made) before the trained
# follow-up decision was chosen; its failures were read when the follow-up answers changed.
CONVERSATIONS_HELDOUT3 = Path(__file__).parent / "datasets" / "conversations-heldout3.jsonl"
# Written blind after that, with follow-ups the collection cannot answer; never tuned on.
CONVERSATIONS_HELDOUT4 = Path(__file__).parent / "datasets" / "conversations-heldout4.jsonl"
CONVERSATIONS_HELDOUT5 = Path(__file__).parent / "datasets" / "conversations-heldout5.jsonl"
CONVERSATIONS_HELDOUT6 = Path(__file__).parent / "datasets" / "conversations-heldout6.jsonl"
BUNDLED = {"sample": SAMPLE_QUESTIONS, "conversations": CONVERSATIONS,
           "conversations-heldout": CONVERSATIONS_HELDOUT, "conversations-heldout2": CONVERSATIONS_HELDOUT2,
           "conversations-heldout3": CONVERSATIONS_HELDOUT3, "conversations-heldout4": CONVERSATIONS_HELDOUT4,
           "conversations-heldout5": CONVERSATIONS_HELDOUT5, "conversations-heldout6": CONVERSATIONS_HELDOUT6}
ARTICLES_FILE = "articles.jsonl"
QUESTIONS_FILE = "questions.jsonl"
# Fields a quiz record must have; anything else (``evidence``) is ignored on purpose.
QUIZ_FIELDS = ("id", "question", "choices", "answer", "date", "gold_urls")


@dataclass(frozen=True)
class Dataset:
    """Questions and the articles file they are asked of.

    Attributes:
        name: ``sample`` or the folder's name (used in the index cache folder and reports).
        articles_path: the JSONL file of articles to index.
        questions_path: the question file that was read.
        questions: the questions, with ``relevant_urls`` already resolved into ``relevant_ids``.
        unmatched_urls: relevant urls found in no article of the collection (left out).
    """

    name: str
    articles_path: Path
    questions_path: Path
    questions: tuple[Question, ...]
    unmatched_urls: int = 0

    def to_dict(self) -> dict:
        return {"name": self.name, "articles": str(self.articles_path), "questions_file": str(self.questions_path),
                "questions": len(self.questions), "unmatched_urls": self.unmatched_urls}


def load_dataset(name_or_path: str | Path) -> Dataset:
    """Load a bundled set (``sample``, ``conversations``, ``conversations-heldout(2, 3)``) or a dataset folder.

    Raises:
        FileNotFoundError: the folder or one of its two files is missing.
        QuestionFormatError: a bad question line (``file:line: reason``).
    """
    if str(name_or_path) in BUNDLED:
        path = BUNDLED[str(name_or_path)]
        return _resolved(str(name_or_path), SAMPLE_ARTICLES, path, load_questions(path))
    folder = Path(name_or_path)
    articles, questions_path = folder / ARTICLES_FILE, folder / QUESTIONS_FILE
    if not folder.is_dir() or not articles.is_file() or not questions_path.is_file():
        raise FileNotFoundError(
            f"--dataset must be one of {', '.join(BUNDLED)} or a folder holding {ARTICLES_FILE} and "
            f"{QUESTIONS_FILE}; "
            f"{folder} is not one"
        )
    return _resolved(folder.name, articles, questions_path, _load_any(questions_path))


def _load_any(path: Path) -> list[Question]:
    """Questions in Newsdesk's format, or converted from the quiz format."""
    records = read_jsonl(path)
    if not records or not (isinstance(records[0][1], dict) and "gold_urls" in records[0][1]):
        return load_questions(path)
    questions = []
    for number, record in records:
        try:
            questions.append(from_quiz(record))
        except (QuestionFormatError, KeyError, TypeError, ValueError) as exc:
            raise QuestionFormatError(f"{path}:{number}: {exc}") from None
    return questions


def from_quiz(record: dict) -> Question:
    """A RealTimeQA quiz record as a :class:`Question` (its ``evidence`` is dropped).

    The quiz ``date`` (``2023/01/05``) becomes ``as_of``, ``gold_urls`` the relevant urls,
    and the publisher the ``kind`` (``quiz-cnn``), for a per-publisher breakdown.

    Raises:
        QuestionFormatError: a required field is missing or malformed.
    """
    missing = [f for f in QUIZ_FIELDS if f not in record]
    if missing:
        raise QuestionFormatError(f"quiz record lacks {missing}; needs {', '.join(QUIZ_FIELDS)}")
    try:
        as_of = date.fromisoformat(str(record["date"]).replace("/", "-"))
    except ValueError:
        raise QuestionFormatError(f"'date' must look like 2023/01/05, got {record['date']!r}") from None
    publisher = str(record.get("source") or "").strip().lower().replace(" ", "-")
    return Question.from_dict({
        "id": str(record["id"]),
        "question": record["question"],
        "answer": record["answer"],
        "choices": record["choices"],
        "relevant_urls": record["gold_urls"],
        "as_of": as_of.isoformat(),
        "kind": f"quiz-{publisher}" if publisher else "quiz",
    })


def article_ids_by_url(path: str | Path) -> dict[str, str]:
    """Map each article url in a JSONL articles file to the id the index gives that article."""
    ids: dict[str, str] = {}
    for _, record in read_jsonl(path):
        url = str(record.get("url") or "").strip()
        if url:
            ids.setdefault(url, stable_id(given=record.get("id"), url=url, text=str(record.get("text") or "")))
    return ids


def _resolved(name: str, articles: Path, questions_path: Path, questions: list[Question]) -> Dataset:
    """The dataset with every question's relevant urls added to its relevant ids."""
    if not any(q.relevant_urls for q in questions):
        return Dataset(name, articles, questions_path, tuple(questions))
    by_url = article_ids_by_url(articles)
    unmatched = 0
    resolved = []
    for q in questions:
        found = [by_url[u.strip()] for u in q.relevant_urls if u.strip() in by_url]
        unmatched += len(q.relevant_urls) - len(found)
        ids = tuple(dict.fromkeys((*q.relevant_ids, *found)))  # ordered, without duplicates
        resolved.append(replace(q, relevant_ids=ids))
    return Dataset(name, articles, questions_path, tuple(resolved), unmatched_urls=unmatched)


def question_summary(dataset: Dataset) -> str:
    """One line on what the dataset holds, for the run's header."""
    qs = dataset.questions
    parts = [
        f"{len(qs)} questions",
        f"{sum(q.unanswerable for q in qs)} unanswerable",
        f"{sum(bool(q.relevant_ids) for q in qs)} with relevant articles",
        f"{sum(q.choices is not None for q in qs)} multiple-choice",
        f"{sum(bool(q.history) for q in qs)} follow-ups",
    ]
    if dataset.unmatched_urls:
        parts.append(f"{dataset.unmatched_urls} relevant urls not in the collection")
    return f"Dataset {dataset.name}: " + ", ".join(parts)


__all__ = ["Dataset", "article_ids_by_url", "from_quiz", "load_dataset", "question_summary"]
