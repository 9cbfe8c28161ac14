"""Replay retrieval's rerank with the hand-set equal weights and with a trained article ranker.

The rerank candidates of every question with gold articles are gathered once per quarter
(:func:`eval.train_ranker.quarter_rows`, cached beside the mined quarters), then ranked both
ways. Reported: article recall@10 and MRR@10, leave one training quarter out (a ranker fit on
the other quarters) and on the dev set (a ranker fit on every training quarter), for the
trees and leaves given. ``newsdesk train-reader`` must have mined the quarters into ``--work``.

    python benchmarks/ranker_replay.py --data ../shared/data/realtimeqa-train --work /tmp/nd/work \\
        --dataset ../shared/data/realtimeqa-2023q1 --index /tmp/nd/dev-index --leaves 7,15
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eval.reader_data import MINING_SETTINGS, quarters
from eval.train_ranker import fit_ranker, quarter_rows, recall_mrr
from rag import Config
from rag.rerank import equal_weight_scores


def equal_weights(rows: list[dict]) -> list[np.ndarray]:
    return [equal_weight_scores(np.asarray(r["features"])) for r in rows]


def learned(model, rows: list[dict]) -> list[np.ndarray]:  # noqa: ANN001 - lightgbm.Booster
    return [model.predict(np.asarray(r["features"])) for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the training split (folders of quarters)")
    ap.add_argument("--work", required=True, help="train-reader's work folder (mined quarters)")
    ap.add_argument("--dataset", required=True, help="the dev set")
    ap.add_argument("--index", required=True, help="the dev index")
    ap.add_argument("--trees", default="200")
    ap.add_argument("--leaves", default="7")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    train = {f.name: quarter_rows(Path(args.work) / f.name, Config(index=MINING_SETTINGS)) for f in quarters(args.data)}
    dev = quarter_rows(Path(args.dataset), Config(), index=Path(args.index))
    every = [r for rows in train.values() for r in rows]
    print(f"{len(every)} training questions in {len(train)} quarters, {len(dev)} dev questions")
    held = np.mean([recall_mrr(rows, equal_weights(rows)) for rows in train.values()], axis=0)
    on_dev = recall_mrr(dev, equal_weights(dev))
    print(f"equal weights      leave-one-quarter-out recall@10 {held[0]:.3f} MRR@10 {held[1]:.3f}   "
          f"dev recall@10 {on_dev[0]:.3f} MRR@10 {on_dev[1]:.3f}")
    for trees in (int(t) for t in args.trees.split(",")):
        for leaves in (int(v) for v in args.leaves.split(",")):
            folds = []
            for name, rows in train.items():
                model = fit_ranker([r for q, rs in train.items() if q != name for r in rs], seed=args.seed,
                                   trees=trees, leaves=leaves)
                folds.append(recall_mrr(rows, learned(model, rows)))
            held = np.mean(folds, axis=0)
            model = fit_ranker(every, seed=args.seed, trees=trees, leaves=leaves)
            on_dev = recall_mrr(dev, learned(model, dev))
            print(f"{trees} trees {leaves:>2} leaves leave-one-quarter-out recall@10 {held[0]:.3f} "
                  f"MRR@10 {held[1]:.3f}   dev recall@10 {on_dev[0]:.3f} MRR@10 {on_dev[1]:.3f}")


if __name__ == "__main__":
    main()
