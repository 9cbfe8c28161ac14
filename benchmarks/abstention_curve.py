"""How well the answer's support tells answerable questions from unanswerable ones, on real news.

The dev set has no unanswerable question, so some are made by removal: ``make`` takes a quiz
collection and, of the questions whose answer at most 15 articles name (normalised, as whole
tokens), makes every other one unanswerable by removing its gold articles and every article
naming its answer; the questions whose gold articles all remain stay answerable. ``curve`` then asks every question
with ``min_support`` 0 and prints, for each threshold, the share of answerable questions that
would abstain (false abstention), the share of unanswerable ones that would (abstention
recall), and the accuracy of the answers kept: the reliability curve ``min_support`` is chosen
from.

    python benchmarks/abstention_curve.py make ../shared/data/realtimeqa-2023q1 /tmp/nd/abstain
    newsdesk index build /tmp/nd/abstain/articles.jsonl --index /tmp/nd/abstain-index
    python benchmarks/abstention_curve.py curve /tmp/nd/abstain --index /tmp/nd/abstain-index
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from eval.data import load_dataset
from eval.metrics import answer_accuracy, normalize_answer
from rag import Assistant
from rag.config import ReadSettings

DEFAULT_MIN_SUPPORT = ReadSettings().min_support


def make(source: Path, out: Path, *, rare: int = 15) -> None:
    dataset = load_dataset(source)
    questions = [q for q in dataset.questions if q.answers and q.relevant_ids]
    articles = [json.loads(line) for line in dataset.articles_path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    texts = {a["id"]: f" {normalize_answer(a.get('title', '') + ' ' + a.get('text', ''))} " for a in articles}

    def holding(q) -> set[str]:  # noqa: ANN001 - eval.questions.Question: the articles naming its answer
        wanted = [f" {normalize_answer(ans)} " for ans in q.answers]
        return {i for i, t in texts.items() if any(w in t for w in wanted)}

    held = {q.id: holding(q) for q in questions}
    # Every other question whose answer few articles name is made unanswerable: its gold articles
    # and every article naming its answer go. A common answer ("Brazil") cannot be removed.
    candidates = [q for q in questions if len(held[q.id]) <= rare]
    removed = candidates[1::2]
    gone = {a for q in removed for a in (*q.relevant_ids, *held[q.id])}
    kept = [a for a in articles if a["id"] not in gone]
    out.mkdir(parents=True, exist_ok=True)
    rows, counts = [], {"answerable": 0, "unanswerable": 0, "dropped": 0}
    for q in questions:
        if q in removed:
            rows.append({"id": q.id, "question": q.question, "unanswerable": True, "as_of": _day(q.as_of),
                         "kind": "removed"})
            counts["unanswerable"] += 1
        elif not set(q.relevant_ids) & gone and held[q.id] - gone:
            rows.append({"id": q.id, "question": q.question, "answer": q.answer, "aliases": list(q.aliases),
                         "relevant_ids": list(q.relevant_ids), "as_of": _day(q.as_of), "kind": "kept"})
            counts["answerable"] += 1
        else:
            counts["dropped"] += 1  # it lost a gold article, or every article naming its answer
    with (out / "articles.jsonl").open("w", encoding="utf-8") as f:
        for a in kept:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(kept)} of {len(articles)} articles kept; questions: {counts}")


def _day(value) -> str | None:  # noqa: ANN001 - a date or None
    return value.isoformat() if value else None


def curve(folder: Path, index: Path, thresholds: list[float]) -> None:
    dataset = load_dataset(folder)
    assistant = Assistant.from_index(index, progress=False).with_config(read={"min_support": 0.0})
    rows = []
    for q in tqdm(dataset.questions, desc="asking", unit="q"):
        answer = assistant.ask(q.question, as_of=q.as_of)
        right = bool(q.answers) and answer_accuracy(prediction=answer.text, answers=q.answers) > 0
        # The reader's score of its best sentence: the other confidence the answer path has.
        reading = assistant.read(q.question, as_of=q.as_of)
        best = assistant.reader.rank(reading)[1][0] if reading.scored and assistant.reader else float("-inf")
        # ``abstained`` at min_support 0: abstentions for other reasons (a number the article lacks).
        rows.append({"unanswerable": q.unanswerable, "support": answer.support, "reader": best,
                     "abstained": answer.abstained, "right": right})
    answerable = [r for r in rows if not r["unanswerable"]]
    unanswerable = [r for r in rows if r["unanswerable"]]
    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable (by removal)")
    readers = sorted(r["reader"] for r in answerable)
    quantiles = [readers[int(len(readers) * f)] for f in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)]
    for signal, values in (("support", thresholds), ("reader", quantiles), ("both", quantiles)):
        print(f"\n| {signal} below | false abstention | abstention recall | accuracy of the kept answers | accuracy |")
        print("|---|---|---|---|---|")
        for t in values:
            def quiet(r: dict, t: float = t, signal: str = signal) -> bool:
                if signal == "both":  # today's support bar, and the reader's below t
                    return r["abstained"] or r["support"] < DEFAULT_MIN_SUPPORT or r["reader"] < t
                return r["abstained"] or r[signal] < t
            false_abstention = sum(quiet(r) for r in answerable) / max(1, len(answerable))
            recall = sum(quiet(r) for r in unanswerable) / max(1, len(unanswerable))
            kept = [r for r in answerable if not quiet(r)]
            precision = sum(r["right"] for r in kept) / max(1, len(kept))
            accuracy = sum(r["right"] for r in kept) / max(1, len(answerable))
            print(f"| {t:.2f} | {false_abstention:.3f} | {recall:.3f} | {precision:.3f} | {accuracy:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write the removal collection")
    m.add_argument("source", type=Path)
    m.add_argument("out", type=Path)
    c = sub.add_parser("curve", help="print the reliability curve")
    c.add_argument("folder", type=Path)
    c.add_argument("--index", type=Path, required=True)
    c.add_argument("--thresholds", default="0.30,0.35,0.40,0.42,0.44,0.46,0.48,0.50,0.55,0.60")
    args = ap.parse_args()
    if args.command == "make":
        make(args.source, args.out)
    else:
        curve(args.folder, args.index, [float(t) for t in args.thresholds.split(",")])


if __name__ == "__main__":
    main()
