"""From one question's outcome to its scores, and from a run's rows to its metrics.

Every metric is a mean over the questions it applies to (see ``eval/README.md``):
retrieval metrics over questions with relevant articles, answer metrics over answerable
questions, ``abstention_recall`` over unanswerable ones, ``mc_accuracy`` over questions with
choices, ``conflict_shown`` over questions whose reports differ (``sides``) and
``false_conflict_rate`` over the other answerable ones. A metric no question applies to is ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eval import metrics as m
from eval.questions import Question
from rag.records import Answer, Choice, Passage

KS = (1, 5, 10)
CURVE_KS = tuple(range(1, 11))
SEARCH_K = max(CURVE_KS)
# Scored per question, then averaged.
QUESTION_KEYS = (
    *(f"article_hit@{k}" for k in KS), *(f"article_recall@{k}" for k in KS), *(f"article_mrr@{k}" for k in KS),
    "ndcg@10", "story_recall@10", "story_mrr@10", "copy_slots@10", *(f"answer_in_context@{k}" for k in KS),
    "answer_accuracy", "answer_f1", "mc_accuracy", "abstention_recall", "false_abstention_rate",
    "citation_precision", "kept_as_asked", "follow_up_accuracy", "conflict_shown", "false_conflict_rate",
)
# The ``kind`` of a conversation turn that leans on the turns before it; any other question
# with a history is a new topic, which should be searched as asked.
FOLLOW_UP = "follow-up"
# Everything a run reports, in report order.
METRIC_KEYS = (
    *QUESTION_KEYS, "search_latency_p50_ms", "search_latency_p95_ms", "latency_p50_ms", "latency_p95_ms",
    "index_build_seconds", "chunks_per_second",
)
UNDATED = "undated"  # the by-month group of questions without ``as_of``
_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome in one run (a row of ``results.json``).

    Attributes:
        retrieved_ids: article id of each of the ``search`` passages, best first (may repeat).
        answer: the text ``ask`` returned, [n] markers included.
        choice: the option ``choose`` picked, None without choices.
        search_ms, latency_ms, choose_ms: wall time of ``search``, ``ask`` and ``choose``.
        scores: metric name -> this question's value, None where the metric does not apply.
        recall_curve: ``article_recall@k`` for k = 1..10, None without relevant articles.
        disagreement: the kind of the answer's "reports differ" note (``conflict``/``update``), or None.
    """

    id: str
    kind: str
    question: str
    as_of: str | None
    expected: tuple[str, ...]
    relevant_ids: tuple[str, ...]
    retrieved_ids: tuple[str, ...]
    answer: str
    abstained: bool
    citations: int
    choice: str | None
    search_ms: float
    latency_ms: float
    choose_ms: float | None
    scores: dict[str, float | None] = field(default_factory=dict)
    recall_curve: tuple[float, ...] | None = None
    disagreement: str | None = None

    def to_dict(self) -> dict:
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("expected", "relevant_ids", "retrieved_ids", "recall_curve"):
            d[name] = None if d[name] is None else list(d[name])
        d["scores"] = dict(self.scores)
        return d


@dataclass(frozen=True)
class RunResult:
    """One variant's run: its config changes, metrics and rows."""

    name: str
    changes: dict
    metrics: dict[str, float | None]
    questions: list[QuestionResult]

    @property
    def recall_curve(self) -> list[float | None]:
        """Mean ``article_recall@k`` for k = 1..10 over questions with relevant articles."""
        curves = [q.recall_curve for q in self.questions if q.recall_curve is not None]
        return [_mean([c[i] for c in curves]) for i in range(len(CURVE_KS))]

    def to_dict(self) -> dict:
        return {"changes": dict(self.changes), "metrics": dict(self.metrics), "recall_curve": self.recall_curve,
                "questions": [q.to_dict() for q in self.questions]}


def strip_markers(text: str) -> str:
    """The answer text without its ``[n]`` citation markers (they are not part of the answer)."""
    return _MARKER.sub("", text)


def score_question(question: Question, *, passages: Sequence[Passage], answer: Answer,
                   choice: Choice | None) -> dict[str, float | None]:
    """Every per-question metric for one question (None where it does not apply)."""
    scores: dict[str, float | None] = dict.fromkeys(QUESTION_KEYS)
    retrieved = [p.article_id for p in passages]
    copies = [[c.article_id for c in p.also] for p in passages]  # a gold article's copy counts as found
    relevant = set(question.relevant_ids)
    if relevant:
        scores["copy_slots@10"] = m.copy_slots_at_k(retrieved=retrieved, copies=copies, k=10)
        scores["story_recall@10"] = m.story_recall_at_k(retrieved=retrieved, copies=copies, relevant=relevant, k=10)
        scores["story_mrr@10"] = m.story_mrr_at_k(retrieved=retrieved, copies=copies, relevant=relevant, k=10)
        for k in KS:
            scores[f"article_hit@{k}"] = m.hit_at_k(retrieved=retrieved, relevant=relevant, k=k)
            scores[f"article_recall@{k}"] = m.recall_at_k(retrieved=retrieved, relevant=relevant, k=k)
            scores[f"article_mrr@{k}"] = m.mrr_at_k(retrieved=retrieved, relevant=relevant, k=k)
        scores["ndcg@10"] = m.ndcg_at_k(retrieved=retrieved, relevant=relevant, k=10)
    if question.unanswerable:
        scores["abstention_recall"] = float(answer.abstained)
    elif question.answers:
        contexts = [f"{p.title}\n{p.text}" for p in passages]
        for k in KS:
            scores[f"answer_in_context@{k}"] = m.answer_in_context(answers=question.answers, contexts=contexts, k=k)
        text = strip_markers(answer.text)
        # An abstention is a wrong answer, whatever words its message happens to hold.
        scores["answer_accuracy"] = 0.0 if answer.abstained else m.answer_accuracy(
            prediction=text, answers=question.answers)
        scores["answer_f1"] = 0.0 if answer.abstained else m.answer_f1(prediction=text, answers=question.answers)
        scores["false_abstention_rate"] = float(answer.abstained)
        if answer.citations and not answer.abstained:
            cited = [c.quote or c.passage_text for c in answer.citations]
            # Where reports differ, a citation quoting any side's value backs the answer's note.
            scores["citation_precision"] = m.citation_precision(cited=cited, answers=question.answers + question.sides)
        if question.sides:
            # Both sides shown: a note of the expected kind, and every side's value in the text.
            kind = "update" if question.kind == "update" else "conflict"
            noted = answer.disagreement is not None and answer.disagreement.kind == kind and not answer.abstained
            scores["conflict_shown"] = m.shows_sides(text=text, sides=question.sides) if noted else 0.0
        else:
            scores["false_conflict_rate"] = float(answer.disagreement is not None)
    if question.history and question.kind == FOLLOW_UP:
        scores["follow_up_accuracy"] = scores["answer_accuracy"]
    elif question.history:
        scores["kept_as_asked"] = float(answer.query.strip() in ("", question.question.strip()))
    if choice is not None:
        scores["mc_accuracy"] = float(choice.choice == question.answer)
    return scores


def recall_curve(question: Question, passages: Sequence[Passage]) -> tuple[float, ...] | None:
    """``article_recall@k`` for k = 1..10, or None when the question has no relevant articles."""
    if not question.relevant_ids:
        return None
    retrieved = [p.article_id for p in passages]
    return tuple(m.recall_at_k(retrieved=retrieved, relevant=question.relevant_ids, k=k) for k in CURVE_KS)


def aggregate(rows: Sequence[QuestionResult], *, build_seconds: float | None = None,
              chunks_per_second: float | None = None) -> dict[str, float | None]:
    """A run's metrics (keys :data:`METRIC_KEYS`): per-question scores averaged where they
    apply, latency percentiles over all questions, and the index build figures."""
    out: dict[str, float | None] = {key: _mean([r.scores.get(key) for r in rows]) for key in QUESTION_KEYS}
    for prefix, values in (("search_latency", [r.search_ms for r in rows]), ("latency", [r.latency_ms for r in rows])):
        for q in (50, 95):
            out[f"{prefix}_p{q}_ms"] = m.percentile(values=values, q=q) if values else None
    out["index_build_seconds"] = build_seconds
    out["chunks_per_second"] = chunks_per_second
    return out


def by_kind(rows: Sequence[QuestionResult], keys: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Per question kind: the number of questions (``n``) and the mean of each of ``keys``."""
    return _by_group(rows, keys, lambda r: r.kind)


def by_month(rows: Sequence[QuestionResult], keys: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """As :func:`by_kind`, per month asked: ``YYYY-MM`` of ``as_of``, :data:`UNDATED` without one."""
    return _by_group(rows, keys, lambda r: r.as_of[:7] if r.as_of else UNDATED)


def _by_group(rows: Sequence[QuestionResult], keys: Sequence[str],
              group: Callable[[QuestionResult], str]) -> dict[str, dict[str, float | None]]:
    groups: dict[str, list[QuestionResult]] = {}
    for r in rows:
        groups.setdefault(group(r), []).append(r)
    return {name: {"n": float(len(members)), **{key: _mean([r.scores.get(key) for r in members]) for key in keys}}
            for name, members in sorted(groups.items())}


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
