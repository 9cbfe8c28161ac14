"""The article ranker's training data and fit (a step of ``newsdesk train-reader``).

For every quiz question of a quarter that names its gold articles, the retriever's own rerank
step (:meth:`rag.retrieve.Retriever.rerank_candidates`) gathers the candidate articles over
the quarter's index and their :data:`rag.rerank.RANK_FEATURES`; a candidate is labelled 1
when it is a gold article. A LightGBM LambdaRank model then learns to put them in the top 10
(its weights replace the equal-weight sum of the hand-set signals).

Rows are cached per quarter, keyed by the feature list and the retrieval settings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.data import load_dataset
from eval.reader_data import read_rows, write_rows
from rag import Assistant, Config
from rag.rerank import RANK_FEATURES

RANK_VERSION = 2  # bump when the rows change: cached rows are then computed again


def _settings_key(config: Config) -> dict:
    r, rr = config.retrieve, config.rerank
    return {"candidates": r.candidates, "dense_weight": r.dense_weight, "rerank": rr.articles,
            "article_bm25": rr.article_bm25, "max_per_article": r.max_per_article, "story_groups": r.story_groups,
            "k": config.k}


def quarter_rows(plain: Path, config: Config, *, index: Path | None = None, progress: bool = True) -> list[dict]:
    """One record per question with gold articles of the unpacked, indexed quarter ``plain``:
    ``{"id", "features": [[...] per candidate], "labels": [0/1 per candidate], "gold": n}``
    (``gold``: how many gold articles the question has, found or not, for recall)."""
    h = hashlib.sha256(f"rank-v{RANK_VERSION}:{','.join(RANK_FEATURES)}".encode())
    h.update(json.dumps(_settings_key(config), sort_keys=True).encode())
    index = index or plain / "index"
    h.update((index / "CURRENT").read_bytes())  # the index version: a rebuilt index is read again
    cache = plain / f"rank-rows-{h.hexdigest()[:16]}.jsonl.gz" if index == plain / "index" else None
    cached = read_rows(cache) if cache is not None else None
    if cached is not None:
        return cached
    assistant = Assistant.from_index(index, config=config.replace(read={"reader": None}), progress=False)
    questions = [q for q in load_dataset(plain).questions if q.relevant_ids]
    rows = []
    for q in tqdm(questions, desc=f"rerank rows {plain.name}", unit="q", disable=not progress):
        ids, x = assistant.rerank_features(q.question, as_of=q.as_of)
        gold = set(q.relevant_ids)
        labels = [int(a in gold) for a in ids]
        rows.append({"id": q.id, "features": np.nan_to_num(x, nan=-1.0).tolist(), "labels": labels,
                     "gold": len(gold)})
    if cache is not None:
        write_rows(cache, rows)
    return rows


def fit_ranker(rows: list[dict], *, seed: int, trees: int = 200, leaves: int = 7):  # noqa: ANN201 - Booster
    """LambdaRank over the candidates of ``rows`` (questions with no gold candidate teach nothing)."""
    import lightgbm as lgb

    rows = [r for r in rows if any(r["labels"])]
    x = np.asarray([f for r in rows for f in r["features"]], dtype=np.float64)
    y = np.asarray([v for r in rows for v in r["labels"]], dtype=np.float64)
    groups = [len(r["labels"]) for r in rows]
    params = {"objective": "lambdarank", "num_leaves": leaves, "learning_rate": 0.05, "min_data_in_leaf": 20,
              "lambdarank_truncation_level": 10, "eval_at": [10], "seed": seed, "deterministic": True,
              "num_threads": 1, "verbose": -1, "feature_pre_filter": False}
    data = lgb.Dataset(x, y, group=groups, feature_name=list(RANK_FEATURES))
    return lgb.train(params, data, num_boost_round=trees)


def recall_mrr(rows: list[dict], scores: list[np.ndarray], k: int = 10) -> tuple[float, float]:
    """Mean article recall@k and MRR@k of the candidates of ``rows`` ordered by ``scores``."""
    recalls, mrrs = [], []
    for r, s in zip(rows, scores):
        order = np.argsort(-np.asarray(s), kind="stable")[:k]
        hits = [r["labels"][i] for i in order]
        recalls.append(sum(hits) / r["gold"])
        mrrs.append(next((1.0 / (i + 1) for i, h in enumerate(hits) if h), 0.0))
    return float(np.mean(recalls)), float(np.mean(mrrs))
