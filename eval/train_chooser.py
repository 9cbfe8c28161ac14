"""The chooser's training data and fit (a step of ``newsdesk train-reader``).

For every quiz question of a quarter that has choices, ``Assistant.choose``'s own evidence
step (:meth:`rag.Assistant.option_features`) reads the quarter's index and tallies each
option's evidence; the rows of :data:`rag.choice.OPTION_FEATURES` are labelled 1 for the
quiz answer. A LightGBM LambdaRank model then learns to rank the answer first.

The reader votes among those features must be as good as they are on new questions, not
better: each quarter is read with a reader whose lexical combiner was fit without that
quarter's questions (an out-of-fold reader, made by the caller). Rows are cached per quarter
by the reader's manifest and the feature list.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.data import load_dataset
from eval.reader_data import MINING_SETTINGS, read_rows, write_rows
from rag import Assistant, Config
from rag.assistant import CHOOSE_K
from rag.choice import OPTION_FEATURES

CHOICE_VERSION = 2  # bump when the rows change: cached rows are then computed again


def quarter_rows(plain: Path, reader_dir: Path, *, progress: bool = True) -> list[dict]:
    """One record per question of the unpacked, indexed quarter ``plain`` (mining made it):
    ``{"id", "features": [[...] per option], "labels": [0/1 per option]}``."""
    h = hashlib.sha256(f"choice-v{CHOICE_VERSION}:{','.join(OPTION_FEATURES)}".encode())
    h.update((reader_dir / "manifest.json").read_bytes())
    cache = plain / f"choice-rows-{h.hexdigest()[:16]}.jsonl.gz"
    cached = read_rows(cache)
    if cached is not None:
        return cached
    config = Config(index=MINING_SETTINGS, read={"reader": str(reader_dir)})
    assistant = Assistant.from_index(plain / "index", config=config, progress=False)
    questions = [q for q in load_dataset(plain).questions if q.choices and q.answer in q.choices]
    rows = []
    for q in tqdm(questions, desc=f"options {plain.name}", unit="q", disable=not progress):
        x = assistant.option_features(q.question, q.choices, as_of=q.as_of, k=CHOOSE_K)
        rows.append({"id": q.id, "features": x.tolist(), "labels": [int(c == q.answer) for c in q.choices]})
    write_rows(cache, rows)
    return rows


def fit_chooser(rows: list[dict], *, seed: int, trees: int = 200, leaves: int = 7):  # noqa: ANN201 - Booster
    """LightGBM LambdaRank over the option rows, one query group per question."""
    import lightgbm

    rows = [r for r in rows if sum(r["labels"]) == 1]
    x = np.asarray([f for r in rows for f in r["features"]], dtype=np.float32)
    y = np.asarray([v for r in rows for v in r["labels"]], dtype=np.float32)
    groups = [len(r["labels"]) for r in rows]
    data = lightgbm.Dataset(x, label=y, group=groups, feature_name=list(OPTION_FEATURES), free_raw_data=False)
    params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [1], "learning_rate": 0.05,
              "num_leaves": leaves, "min_data_in_leaf": 40, "feature_fraction": 0.8, "bagging_fraction": 0.8,
              "bagging_freq": 1, "seed": seed, "deterministic": True, "num_threads": 2, "verbose": -1}
    return lightgbm.train(params, data, num_boost_round=trees)


def first_right(rows: list[dict], booster) -> float:  # noqa: ANN001
    """Share of questions whose best option by ``booster`` is the answer."""
    hits = [r["labels"][int(np.argmax(booster.predict(np.asarray(r["features"], dtype=np.float32))))]
            for r in rows if sum(r["labels"]) == 1]
    return sum(hits) / max(1, len(hits))
