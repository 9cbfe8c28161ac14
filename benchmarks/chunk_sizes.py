"""Chunk size on a question set: build one index per chunking and evaluate the default pipeline.

Each setting is TOKENS/OVERLAP/DENSE: chunk size and overlap in cl100k tokens, and how many of
an article's first chunks get a vector (``IndexSettings.dense_chunks_per_article``; scale it
with the chunk size to embed about the same text). A full build of the RealTimeQA collection
takes about 6 minutes per setting on a 2-core machine.

    python benchmarks/chunk_sizes.py --dataset ../shared/data/realtimeqa-2023q1 --work /tmp/chunk-sizes \\
        --settings 96/24/13,160/32/8,200/40/6,240/48/5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.data import load_dataset
from eval.report import summary_table
from eval.runner import run_variant
from index.build import build_index
from index.settings import IndexSettings
from rag import Assistant, Config


def parse_setting(text: str) -> IndexSettings:
    """``"160/32/8"`` -> ``IndexSettings(chunk_tokens=160, chunk_overlap=32, dense_chunks_per_article=8)``."""
    tokens, overlap, dense = (int(x) for x in text.split("/"))
    return IndexSettings(chunk_tokens=tokens, chunk_overlap=overlap, dense_chunks_per_article=dense)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a dataset folder (articles.jsonl + questions.jsonl)")
    parser.add_argument("--work", required=True, help="folder for the indexes (reused when up to date)")
    parser.add_argument("--settings", default="160/32/8", help="comma-separated TOKENS/OVERLAP/DENSE")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset)
    runs = []
    for text in (t.strip() for t in args.settings.split(",")):
        settings = parse_setting(text)
        folder = Path(args.work) / text.replace("/", "-")
        report = build_index([Path(args.dataset) / "articles.jsonl"], folder, settings=settings)
        print(f"{text}: {report.chunks:,} chunks, {report.embedded_chunks:,} embedded, "
              f"{report.truncated_chunks:,} longer than the model reads, build {report.seconds:.0f} s", flush=True)
        assistant = Assistant.from_index(folder, config=Config(index=settings), progress=False)
        runs.append(run_variant(assistant, dataset.questions, name=text, changes={}))
    print(summary_table(runs))


if __name__ == "__main__":
    main()
