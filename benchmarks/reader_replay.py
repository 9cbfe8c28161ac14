"""Replay the answerer's sentence choice on a question set, with and without a reader.

Each question is read once (``Assistant.read``: the same passages and candidates ``ask``
reads); then each scorer ranks the candidates and the answer is built as ``ask`` builds it
(the best sentence, a second one when it passes the bar). Reported per scorer: the share of
answerable questions whose first sentence holds the answer, whose two best do, and whose
answer does, beside the ceiling (some candidate holds it). Settings of the reader (its
``second_margin``, how many sentences its cross-encoder reads) are chosen with this on dev.

    python benchmarks/reader_replay.py --dataset ../shared/data/realtimeqa-2023q1 \\
        --index /tmp/nd/dev-index --reader rag/models/reader --margins 0.5,1,2
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from tqdm import tqdm

from eval.data import load_dataset
from eval.metrics import answer_accuracy
from rag import Assistant, Config
from rag.answer import pick_sentences
from rag.reader import Reader


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--reader", default=None, help="reader folder (default: the bundled one)")
    ap.add_argument("--margins", default="1.0", help="second-sentence margins to try for the reader")
    ap.add_argument("--tops", default="", help="cross-encoder depths to try (default: the manifest's)")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    dataset = load_dataset(args.dataset)
    assistant = Assistant.from_index(args.index, config=Config(read={"reader": None}), progress=False)
    questions = [q for q in dataset.questions if q.answers][: args.limit]
    readings = [assistant.read(q.question, as_of=q.as_of) for q in tqdm(questions, desc="reading", unit="q")]
    labels = [[answer_accuracy(prediction=s.evidence.text, answers=q.answers) > 0 for s in r.scored]
              for q, r in zip(questions, readings)]
    n = len(questions)
    print(f"{n} answerable questions; some candidate holds the answer for "
          f"{sum(any(lab) for lab in labels) / n:.3f}")

    def report(name: str, ranked_lists, bar) -> None:  # noqa: ANN001
        top1 = top2 = acc = 0
        for q, (ranked, scores) in zip(questions, ranked_lists):
            if not ranked:
                continue
            holds = [answer_accuracy(prediction=s.evidence.text, answers=q.answers) > 0 for s in ranked[:2]]
            chosen = pick_sentences(ranked, scores, bar(scores[0]), 2)
            top1 += holds[0]
            top2 += any(holds)
            acc += any(answer_accuracy(prediction=s.evidence.text, answers=q.answers) > 0 for s in chosen)
        print(f"{name:40s} first {top1 / n:.3f}  two best {top2 / n:.3f}  answer {acc / n:.3f}")

    hand = [(r.scored, [s.score for s in r.scored]) for r in readings]
    report("hand-set score (no reader)", hand, lambda b: 0.85 * b)
    tops = [int(t) for t in args.tops.split(",") if t.strip()] or [None]
    for use_ce in (False, True):
        for top in (tops if use_ce else [None]):
            reader = Reader(args.reader, use_cross_encoder=use_ce)
            if top is not None:
                reader.manifest = replace(reader.manifest, cross_encoder_top=top)
            t0 = time.perf_counter()
            ranked = [reader.rank(r) if r.scored else ([], []) for r in readings]
            ms = (time.perf_counter() - t0) * 1000 / max(1, n)
            for margin in [float(m) for m in args.margins.split(",")]:
                label = f"reader{'' if use_ce else ' without cross-encoder'}" + (f" top{top}" if top else "")
                report(f"{label} margin {margin} ({ms:.0f} ms/q)", ranked, lambda b, m=margin: b - m)



if __name__ == "__main__":
    main()
