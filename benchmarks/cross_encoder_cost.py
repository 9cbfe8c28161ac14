"""What the optional cross-encoder stage costs per question: search latency without and with it.

Give your own cross-encoder with ``--model``. With ``--random-minilm`` the script writes a
cross-encoder of the size most people use (6 layers, 384 wide, like
cross-encoder/ms-marco-MiniLM-L6-v2) with random weights, from the bundled embedding model's
config: its latency is real, its order is meaningless, so only the timings count.

    python benchmarks/cross_encoder_cost.py --dataset ../shared/data/realtimeqa-2023q1 \\
        --index /tmp/nd-bench2/index --random-minilm --tops 10,20,50
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.data import load_dataset
from rag import Assistant


def random_minilm_cross_encoder(folder: Path) -> str:
    """A MiniLM-L6-sized BERT cross-encoder with random weights, saved in ``folder``."""
    from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification

    from index.embed import resolve_model
    from index.settings import DEFAULT_MODEL

    source = resolve_model(DEFAULT_MODEL)
    config = AutoConfig.from_pretrained(source, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return str(folder)


def latencies(assistant: Assistant, questions: list) -> np.ndarray:
    """Milliseconds of ``search(k=10)`` per question, after one untimed warm-up."""
    assistant.search(questions[0].question, k=10, as_of=questions[0].as_of)
    out = []
    for q in questions:
        t0 = time.perf_counter()
        assistant.search(q.question, k=10, as_of=q.as_of)
        out.append((time.perf_counter() - t0) * 1000)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a dataset folder (articles.jsonl + questions.jsonl)")
    parser.add_argument("--index", required=True, help="the index built from that collection")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="your cross-encoder: a folder or a name in the HF cache")
    which.add_argument("--random-minilm", action="store_true", help="time a random-weight MiniLM-L6-sized one")
    parser.add_argument("--tops", default="10,20", help="cross_encoder_top values to time (default 10,20)")
    parser.add_argument("--questions", type=int, default=100, help="questions timed (default 100)")
    args = parser.parse_args()

    questions = load_dataset(args.dataset).questions[: args.questions]
    base = Assistant.from_index(args.index, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or random_minilm_cross_encoder(Path(tmp))
        label = "random MiniLM-L6" if args.random_minilm else model
        print(f"{len(questions)} questions, search k=10, cross-encoder {label}")
        print(f"{'stage':<28} {'p50 ms':>8} {'p95 ms':>8}")
        rows = [("without", base)] + [
            (f"cross_encoder_top={top}", base.with_config(rerank={"cross_encoder": model, "cross_encoder_top": top}))
            for top in sorted({int(t) for t in args.tops.split(",")})
        ]
        for name, assistant in rows:
            ms = latencies(assistant, questions)
            print(f"{name:<28} {np.percentile(ms, 50):8.1f} {np.percentile(ms, 95):8.1f}")


if __name__ == "__main__":
    main()
