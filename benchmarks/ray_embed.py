"""Embedding throughput on a Ray cluster against the plain in-process embedder, same chunks.

Both embed the exact texts a build embeds (``embed_speed.chunk_texts``: headline + date context
+ chunk, from articles drawn with a fixed seed) with the default backend. The plain side is
``Embedder.embed`` on all cores; the Ray side is :class:`index.ray_embed.RayEmbedder` on a local
cluster with ``--workers`` actors, each with an equal share of the cores. Ray's start-up (cluster,
actors loading the model) is timed apart; both are warmed up first and the two alternate, so
drift hits both. Per-core figures divide by the cores each side used: what a sizing table needs.

    python benchmarks/ray_embed.py ../shared/data/realtimeqa-2023q1/articles.jsonl --out /tmp/ray_embed.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark scripts

from embed_speed import chunk_texts  # noqa: E402

from index.embed import Embedder  # noqa: E402
from index.ray_embed import RayEmbedder  # noqa: E402
from index.settings import IndexSettings  # noqa: E402

MIN_COSINE = 0.999


def timed(embed, texts: list[str]) -> tuple[np.ndarray, float]:  # noqa: ANN001 - an embed method
    t = time.perf_counter()
    vectors = embed(texts)
    return vectors, time.perf_counter() - t


def run(texts: list[str], *, settings: IndexSettings, workers: int, rounds: int) -> dict:
    cores = os.cpu_count() or 1
    plain = Embedder(settings.model, device=settings.device, batch_size=settings.batch_size,  # as a build makes it
                     max_seq_length=settings.max_seq_length, backend=settings.backend)
    plain.load()
    t = time.perf_counter()
    ray_embedder = RayEmbedder.from_settings(settings, address="local", workers=workers)
    ray_embedder.load()
    startup = time.perf_counter() - t
    import ray

    ray_cores = int(ray.cluster_resources().get("CPU", 0)) - int(ray.available_resources().get("CPU", 0))
    try:
        plain.embed(texts[:32])  # warm both up
        ray_embedder.embed(texts[:32])
        rows = []
        for r in range(rounds):
            want, t_plain = timed(plain.embed, texts)
            got, t_ray = timed(ray_embedder.embed, texts)
            cos = (want * got).sum(1)
            rows.append({"round": r + 1, "plain_s": t_plain, "ray_s": t_ray, "plain_per_s": len(texts) / t_plain,
                         "ray_per_s": len(texts) / t_ray, "cos_min": float(cos.min()), "cos_mean": float(cos.mean())})
    finally:
        ray_embedder.close()
    plain_s, ray_s = sum(r["plain_s"] for r in rows), sum(r["ray_s"] for r in rows)
    n = rounds * len(texts)
    return {
        "date": datetime.date.today().isoformat(), "chunks": len(texts), "rounds": rounds,
        "backend": plain.resolved_backend, "machine_cores": cores, "workers": workers, "ray_cores": ray_cores,
        "plain_per_s": n / plain_s, "ray_per_s": n / ray_s, "ratio": plain_s / ray_s,
        "plain_per_core_per_s": n / plain_s / cores, "ray_per_core_per_s": n / ray_s / max(ray_cores, 1),
        "ray_startup_s": startup, "cos_min": min(r["cos_min"] for r in rows),
        "cos_mean": float(np.mean([r["cos_mean"] for r in rows])), "per_round": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("articles", help="a collection file (e.g. the dev collection's articles.jsonl)")
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--chunks", type=int, default=2000, help="chunks to embed (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    args = parser.parse_args()

    settings = IndexSettings()
    texts = chunk_texts(args.articles, args.chunks, settings)
    result = run(texts, settings=settings, workers=args.workers, rounds=args.rounds)
    result["command"] = " ".join(["python", *sys.argv])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    r = result
    print(f"\n{r['chunks']} chunks from {args.articles}; backend {r['backend']}; {r['machine_cores']} cores; "
          f"Ray: {r['workers']} workers on a local cluster ({r['ray_cores']} CPUs)\n")
    print("| round | plain chunks/s | Ray chunks/s | cosine min | cosine mean |")
    print("|---|---|---|---|---|")
    for row in r["per_round"]:
        print(f"| {row['round']} | {row['plain_per_s']:.1f} | {row['ray_per_s']:.1f} | {row['cos_min']:.5f} "
              f"| {row['cos_mean']:.5f} |")
    print(f"| all | {r['plain_per_s']:.1f} | {r['ray_per_s']:.1f} | {r['cos_min']:.5f} | {r['cos_mean']:.5f} |")
    print(f"\nRay / plain throughput: {r['ratio']:.2f}x; per core: plain {r['plain_per_core_per_s']:.1f}, "
          f"Ray {r['ray_per_core_per_s']:.1f} chunks/s; Ray start-up {r['ray_startup_s']:.1f} s (not in the above)")
    print(f"Written to {args.out}")
    if r["cos_min"] < MIN_COSINE:
        print(f"FAIL: minimum cosine {r['cos_min']:.5f} < {MIN_COSINE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
