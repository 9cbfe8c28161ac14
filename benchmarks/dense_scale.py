"""Dense search at 100k and 1M chunks: build time, memory, per-query latency, recall@10.

The vectors look like real ones: each is a real chunk embedding from an index you built
(e.g. the RealTimeQA dev collection) plus Gaussian noise, renormalised, so the collection
keeps the clustered shape of news embeddings. Queries are real question embeddings from a
question file, embedded with the index's model. Recall@10 is measured against exact search
over the same vectors; latency is one query at a time, as a user's search runs.

    python benchmarks/dense_scale.py --index /tmp/dev-idx \\
        --questions ../shared/data/realtimeqa-2023q1/questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np

from index.build import choose_factory
from index.embed import Embedder
from index.store import IndexStore

# Noise per dimension: the median cosine between a synthetic vector and its source is ~0.8,
# close to two chunks of one story, so neighbours stay meaningful but are not copies.
NOISE = 0.035


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    step = 100_000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        src = base[rng.integers(0, len(base), hi - lo)]
        block = src + rng.normal(0, NOISE, size=src.shape).astype(np.float32)
        out[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))


def bench(name: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, factory: str,
          nprobe: int | None) -> dict:
    t0 = time.perf_counter()
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        sample = vectors[np.random.default_rng(1).choice(len(vectors), min(len(vectors), 100_000), replace=False)]
        index.train(sample)
    index.add(vectors)
    build_s = time.perf_counter() - t0
    if nprobe:
        faiss.extract_index_ivf(index).nprobe = nprobe
    size_mb = faiss.serialize_index(index).nbytes / 2**20
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], 10)
        times.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    return {
        "collection": name, "index": factory + (f" nprobe={nprobe}" if nprobe else ""),
        "build_s": round(build_s, 1), "index_mb": round(size_mb), "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "recall@10": round(recall_at_10(np.array(found), truth), 3),
    }


def seed_vectors(index_dir: str) -> tuple[np.ndarray, str]:
    """The real chunk vectors of a built index, and its model name."""
    store = IndexStore.load(index_dir, verify=False)
    return faiss.downcast_index(store.dense.index).reconstruct_n(0, store.dense.ntotal), store.manifest["model"]


def run_sizes(base: np.ndarray, queries: np.ndarray, sizes: list[int], nprobes: list[int]) -> list[dict]:
    """For each size: exact search, then the index a build would choose at that size (each nprobe)."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        vectors = synthetic(base, n, rng)
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        _, truth = exact.search(queries, 10)
        del exact
        rows.append(bench(f"{n:,}", vectors, queries, truth, "Flat", None))
        factory = choose_factory(n)
        if factory != "Flat":
            for nprobe in nprobes:
                rows.append(bench(f"{n:,}", vectors, queries, truth, factory, nprobe))
        del vectors
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="a built index whose chunk vectors seed the collection")
    parser.add_argument("--questions", required=True, help="JSONL with a 'question' field per line")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--nprobe", default="16,32,64", help="IVF probes to try")
    args = parser.parse_args()

    base, model = seed_vectors(args.index)
    questions = [json.loads(line)["question"] for line in open(args.questions, encoding="utf-8")]
    queries = Embedder(model).embed(questions)
    rows = run_sizes(base, queries, [int(s) for s in args.sizes.split(",")],
                     [int(p) for p in args.nprobe.split(",")])
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
