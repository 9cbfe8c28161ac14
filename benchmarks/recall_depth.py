"""How deep the right articles sit: article recall at several depths for the default pipeline.

Recall@10 is what the answer reads; recall at 20 or 50 says how much a better reranker of
the top candidates could still gain. Uses ``Assistant.search`` with the default config and
each question's ``as_of``, over the questions that have relevant articles.

    python benchmarks/recall_depth.py --dataset ../shared/data/realtimeqa-2023q1 --index /tmp/nd-bench/index
"""

from __future__ import annotations

import argparse

import numpy as np

from eval.data import load_dataset
from eval.metrics import recall_at_k
from rag import Assistant


def recall_by_depth(assistant: Assistant, questions: list, depths: list[int]) -> dict[int, float]:
    """Mean article recall@k for each k in ``depths`` (one search per question, the deepest)."""
    per_depth: dict[int, list[float]] = {k: [] for k in depths}
    for q in questions:
        hits = assistant.search(q.question, k=max(depths), as_of=q.as_of)
        retrieved = [p.article_id for p in hits]
        for k in depths:
            per_depth[k].append(recall_at_k(retrieved=retrieved, relevant=q.relevant_ids, k=k))
    return {k: float(np.mean(v)) for k, v in per_depth.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a dataset folder (articles.jsonl + questions.jsonl)")
    parser.add_argument("--index", required=True, help="the index built from that collection")
    parser.add_argument("--depths", default="10,20,50", help="comma-separated k values (default 10,20,50; at most 100)")
    args = parser.parse_args()
    depths = sorted({int(k) for k in args.depths.split(",")})
    questions = [q for q in load_dataset(args.dataset).questions if q.relevant_ids]
    figures = recall_by_depth(Assistant.from_index(args.index, progress=False), questions, depths)
    print(f"\n{len(questions)} questions with relevant articles; default pipeline\n")
    print("| depth | article recall |")
    print("|---|---|")
    for k, value in figures.items():
        print(f"| {k} | {value:.3f} |")


if __name__ == "__main__":
    main()
