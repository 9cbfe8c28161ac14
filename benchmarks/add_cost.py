"""What one article's ``index add`` costs next to a full build of the collection, in one run.

Builds an index of N articles (timed: a fresh embedder, so the model load counts, as in
``newsdesk index build``), then adds one more article twice: once with a fresh embedder (what
``newsdesk index add`` pays, model load included) and once with the model already loaded (the
work the add itself does: read the index, chunk, embed, count and sign one article, recompute
BM25, write and checksum the new version). Prints the seconds and their ratios to the build.

The articles are those of a JSONL file, repeated with new ids (and a numbered headline) up to
N when it holds fewer: by default the bundled sample, repeated to 500.

    python benchmarks/add_cost.py                       # the sample, repeated to 500 articles
    python benchmarks/add_cost.py --articles ../shared/data/realtimeqa-2023q1/articles.jsonl --n 500
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.build import add_articles, write_collection  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.load import load_articles  # noqa: E402
from index.records import Article  # noqa: E402
from index.settings import IndexSettings  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "index" / "sample" / "articles.jsonl"


def collection(path: Path, n: int) -> list[Article]:
    """``n`` articles from ``path``, its articles repeated with new ids when it holds fewer."""
    found = load_articles([path]).articles
    out = []
    for i in range(n):
        a, copy = found[i % len(found)], i // len(found)
        out.append(a if copy == 0 else replace(a, id=f"{a.id}~{copy}", title=f"{a.title} ({copy})", content_hash=""))
    return out


def _embedder(settings: IndexSettings, backend: str) -> Embedder:
    return Embedder(settings.model, device=settings.device, batch_size=settings.batch_size,
                    max_seq_length=settings.max_seq_length, backend=backend)


def run(articles: list[Article], *, backend: str = "auto") -> dict:
    settings = IndexSettings(backend=backend)
    _embedder(settings, backend).load()  # an ONNX export made on first use is not timed
    base, extra = articles[:-2], articles[-2:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "idx"
        t = time.perf_counter()
        built = write_collection(root, base, settings=settings, embedder=_embedder(settings, backend), progress=False)
        full = time.perf_counter() - t
        t = time.perf_counter()
        cold = add_articles(root, extra[:1], settings=settings, embedder=_embedder(settings, backend), progress=False)
        add_cold = time.perf_counter() - t
        warm_embedder = _embedder(settings, backend)
        warm_embedder.load()
        t = time.perf_counter()
        warm = add_articles(root, extra[1:], settings=settings, embedder=warm_embedder, progress=False)
        add_warm = time.perf_counter() - t
    return {"articles": len(base), "chunks": built.chunks, "embedded_chunks": built.embedded_chunks,
            "backend": getattr(warm_embedder, "resolved_backend", backend),
            "full_build_s": round(full, 2), "add_s": round(add_cold, 2), "add_model_loaded_s": round(add_warm, 2),
            "add_embedded_chunks": [cold.embedded_chunks, warm.embedded_chunks],
            "ratio": round(add_cold / full, 4), "ratio_model_loaded": round(add_warm / full, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=SAMPLE, help="JSONL of articles (default: the sample)")
    parser.add_argument("--n", type=int, default=500, help="articles in the collection (default 500)")
    parser.add_argument("--backend", default="auto", help="embedding backend (default auto)")
    args = parser.parse_args()
    result = run(collection(args.articles, args.n + 2), backend=args.backend)
    print(f"full build of {result['articles']:,} articles ({result['chunks']:,} chunks, "
          f"{result['embedded_chunks']:,} embedded): {result['full_build_s']:.2f} s")
    print(f"add of 1 article, model load included: {result['add_s']:.2f} s (ratio {result['ratio']:.4f})")
    print(f"add of 1 article, model loaded:        {result['add_model_loaded_s']:.2f} s "
          f"(ratio {result['ratio_model_loaded']:.4f})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
