"""Embedding throughput: the default backend against plain sentence-transformers fp32, side by side.

Both encode the same chunks: the exact texts an index build embeds (headline + date context +
chunk, the first ``dense_chunks_per_article`` chunks of each article) from a collection you
give. The baseline is plain ``SentenceTransformer.encode`` with its default batch size, all
cores and the same maximum sequence length. Models are loaded (and the ONNX export built)
before timing; nothing is cached between runs, and the two alternate so drift hits both.

    python benchmarks/embed_speed.py ../shared/data/realtimeqa-2023q1/articles.jsonl
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from index.chunk import chunk_spans, context_prefix
from index.embed import Embedder, resolve_model
from index.load import load_articles
from index.settings import IndexSettings


def chunk_texts(path: str, n: int, settings: IndexSettings, seed: int = 0) -> list[str]:
    """``n`` embedded-chunk texts from articles drawn at random (fixed seed)."""
    articles = load_articles(path).articles
    random.Random(seed).shuffle(articles)
    texts: list[str] = []
    for a in articles:
        prefix = context_prefix(a.title, a.date, settings)
        spans = chunk_spans(a.text, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
        texts += [prefix + a.text[s:e] for s, e in spans[:settings.dense_chunks_per_article or None]]
        if len(texts) >= n:
            break
    return texts[:n]


def compare(texts: list[str], *, settings: IndexSettings, backend: str = "onnx-int8", rounds: int = 2) -> list[dict]:
    """Encode ``texts`` with plain fp32 sentence-transformers and with ``backend``, alternating;
    one row per round (chunks/s each way, their ratio, cosine of ours to fp32)."""
    from sentence_transformers import SentenceTransformer

    baseline = SentenceTransformer(resolve_model(settings.model), device="cpu", local_files_only=True)
    baseline.max_seq_length = settings.max_seq_length
    ours = Embedder(settings.model, max_seq_length=settings.max_seq_length, backend=backend)
    ours.load()
    baseline.encode(texts[:32])  # warm both up
    ours.embed(texts[:32])
    rows = []
    for r in range(rounds):
        t = time.perf_counter()
        ref = baseline.encode(texts, normalize_embeddings=True)
        t_base = time.perf_counter() - t
        t = time.perf_counter()
        got = ours.embed(texts)
        t_ours = time.perf_counter() - t
        cos = (np.asarray(ref) * got).sum(1)
        rows.append({"round": r + 1, "backend": ours.resolved_backend, "fp32_per_s": len(texts) / t_base,
                     "ours_per_s": len(texts) / t_ours, "ratio": t_base / t_ours,
                     "cos_mean": float(cos.mean()), "cos_min": float(cos.min())})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("articles", help="a collection file (e.g. the dev collection's articles.jsonl)")
    parser.add_argument("--chunks", type=int, default=2000, help="chunks to embed (default 2000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--backend", default="onnx-int8", help="backend to compare with torch fp32")
    args = parser.parse_args()

    settings = IndexSettings()
    texts = chunk_texts(args.articles, args.chunks, settings)
    rows = compare(texts, settings=settings, backend=args.backend, rounds=args.rounds)
    print(f"\n{len(texts)} chunks from {args.articles}; max_seq_length {settings.max_seq_length}; "
          f"backend {rows[0]['backend']}\n")
    print("| round | torch fp32 chunks/s | default chunks/s | ratio | cosine mean | cosine min |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['round']} | {r['fp32_per_s']:.1f} | {r['ours_per_s']:.1f} | {r['ratio']:.2f}x "
              f"| {r['cos_mean']:.4f} | {r['cos_min']:.4f} |")
    base_s = sum(len(texts) / r["fp32_per_s"] for r in rows)
    ours_s = sum(len(texts) / r["ours_per_s"] for r in rows)
    print(f"| all | {len(rows) * len(texts) / base_s:.1f} | {len(rows) * len(texts) / ours_s:.1f} "
          f"| {base_s / ours_s:.2f}x | | |")


if __name__ == "__main__":
    main()
