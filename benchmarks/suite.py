"""The speed and scale suite: every figure of the speed issue from one command, in one table.

    python benchmarks/suite.py --dataset ../shared/data/realtimeqa-2023q1 --work /tmp/nd-bench

Stages, in order (``--only`` picks some; each row says how it was measured):

1. ``embed``: the default embedding backend against plain ``SentenceTransformer.encode``
   (fp32, default batch size, all cores, same max_seq_length) on the same chunk texts a build
   embeds, alternating (``embed_speed.py``).
2. ``build``: a full build of the collection into ``WORK/index`` (what ``newsdesk index build``
   runs), a no-change rebuild (articles loaded and hashed again, nothing embedded), then 10
   articles removed and added back: only their chunks may be embedded.
3. ``dense``: dense search at 100k and 1M vectors made from the index's real chunk vectors
   plus noise, queried with the real questions, with the index type a build picks at each size
   (``dense_scale.py``).
4. ``latency``: every question through ``Assistant.ask`` with the default configuration on
   that index, one at a time, as ``newsdesk eval`` times it.
5. ``serve``: ``newsdesk serve`` on that index in its own process; every question through its
   ``/ask`` API over HTTP; the process's peak resident memory (VmHWM) afterwards.

``--index DIR`` skips ``build`` and measures an index you already built. Run it on an idle
machine: the embedding ratio and latencies are sensitive to other jobs on the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark scripts

from dense_scale import run_sizes, seed_vectors  # noqa: E402
from embed_speed import chunk_texts, compare  # noqa: E402
from ui_load import free_port  # noqa: E402

from eval.metrics import percentile  # noqa: E402
from index.build import add_articles, build_index, choose_factory, remove_articles  # noqa: E402
from index.chunk import chunk_spans  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.load import load_articles  # noqa: E402
from index.settings import IVF_NPROBE, IndexSettings  # noqa: E402

STAGES = ("embed", "build", "dense", "latency", "serve")


@dataclass
class Row:
    """One figure of the table."""

    stage: str
    measure: str
    value: str
    target: str = ""
    met: bool | None = None


def stage_embed(articles: Path, settings: IndexSettings, chunks: int, rounds: int) -> list[Row]:
    texts = chunk_texts(str(articles), chunks, settings)
    rounds_ = compare(texts, settings=settings, backend=settings.backend, rounds=rounds)
    # Throughput over all rounds (chunks / total seconds each way): one slow round of either
    # side counts for what it cost, not as the verdict.
    base_s = sum(len(texts) / r["fp32_per_s"] for r in rounds_)
    ours_s = sum(len(texts) / r["ours_per_s"] for r in rounds_)
    ratio = base_s / ours_s
    per_round = [r["ratio"] for r in rounds_]
    n = len(rounds_)
    return [
        Row("embed", f"torch fp32 encode, {len(texts)} chunks x {n} rounds", f"{n * len(texts) / base_s:.1f} chunks/s"),
        Row("embed", f"default backend ({rounds_[0]['backend']})", f"{n * len(texts) / ours_s:.1f} chunks/s"),
        Row("embed", f"ratio over all {n} rounds (total time)", f"{ratio:.2f}x", ">= 2.0x", ratio >= 2.0),
        Row("embed", "ratio per round, worst / best", f"{min(per_round):.2f}x / {max(per_round):.2f}x"),
        Row("embed", "cosine to fp32, mean / min",
            f"{np.mean([r['cos_mean'] for r in rounds_]):.3f} / {min(r['cos_min'] for r in rounds_):.3f}"),
    ]


def stage_build(articles: Path, index_dir: Path, settings: IndexSettings) -> list[Row]:
    if index_dir.exists():
        shutil.rmtree(index_dir)
    t = time.perf_counter()
    full = build_index([articles], index_dir, settings=settings)
    full_s = time.perf_counter() - t
    t = time.perf_counter()
    again = build_index([articles], index_dir, settings=settings, progress=False)
    again_s = time.perf_counter() - t
    bound = max(10.0, 0.05 * full_s)

    # Ten articles out and back in: only their own chunks may be embedded again.
    ten = random.Random(0).sample(load_articles([articles]).articles, 10)
    t = time.perf_counter()
    removed = remove_articles(index_dir, [a.id for a in ten], settings=settings)
    removed_s = time.perf_counter() - t
    t = time.perf_counter()
    added = add_articles(index_dir, ten, settings=settings, progress=False)
    added_s = time.perf_counter() - t
    per_article = settings.dense_chunks_per_article or None
    own = sum(len(chunk_spans(a.text, chunk_tokens=settings.chunk_tokens,
                              chunk_overlap=settings.chunk_overlap)[:per_article]) for a in ten)
    return [
        Row("build", f"full build: {full.articles:,} articles, {full.chunks:,} chunks, "
                     f"{full.embedded_chunks:,} embedded", f"{full_s:.1f} s"),
        Row("build", "no-change rebuild (load, hash, compare; wall clock)", f"{again_s:.1f} s",
            f"<= {bound:.1f} s", again_s <= bound and again.embedded_chunks == 0),
        Row("build", "remove 10 articles: chunks embedded (wall clock)",
            f"{removed.embedded_chunks} ({removed_s:.1f} s)", "0", removed.embedded_chunks == 0),
        Row("build", f"add them back: chunks embedded (their own: {own}; wall clock)",
            f"{added.embedded_chunks} ({added_s:.1f} s)", f"== {own}", added.embedded_chunks == own),
    ]


def stage_dense(index_dir: Path, questions: list[str], sizes: list[int], settings: IndexSettings) -> list[Row]:
    base, model = seed_vectors(str(index_dir))
    queries = Embedder(model, max_seq_length=settings.max_seq_length, backend=settings.backend).embed(questions)
    rows = []
    for r in run_sizes(base, queries, sizes, [IVF_NPROBE]):
        n = int(r["collection"].replace(",", ""))
        served = r["index"].startswith(choose_factory(n))  # else exact search, kept as the reference
        checked = served and n >= 1_000_000
        rows.append(Row(
            "dense", f"{r['collection']} vectors, {r['index']}{'' if served else ' (reference)'}: "
                     f"build {r['build_s']} s, {r['index_mb']} MB",
            f"p50 {r['p50_ms']} / p95 {r['p95_ms']} ms, recall@10 {r['recall@10']}",
            "p95 <= 50 ms, recall >= 0.95, < 2 GB" if checked else "",
            (r["p95_ms"] <= 50 and r["recall@10"] >= 0.95 and r["index_mb"] < 2048) if checked else None,
        ))
    return rows


def _dev_questions(dataset: Path) -> list[dict]:
    return [json.loads(line) for line in open(dataset / "questions.jsonl", encoding="utf-8") if line.strip()]


def _as_of(q: dict) -> str | None:
    """The date a question was asked: ``as_of`` in our format, the quiz ``date`` in RealTimeQA's."""
    day = q.get("as_of") or q.get("date")
    return str(day).replace("/", "-") if day else None


def stage_latency(index_dir: Path, questions: list[dict], settings: IndexSettings) -> list[Row]:
    from rag import Assistant, Config

    assistant = Assistant.from_index(index_dir, config=Config(index=settings), progress=False)
    assistant.ask(questions[0]["question"], as_of=_as_of(questions[0]))  # one-off costs: model load, caches
    times = []
    for q in questions:
        t = time.perf_counter()
        assistant.ask(q["question"], as_of=_as_of(q))
        times.append((time.perf_counter() - t) * 1000)
    p95 = percentile(values=times, q=95)
    return [Row("latency", f"Assistant.ask, default pipeline, {len(times)} questions one at a time",
                f"p50 {percentile(values=times, q=50):.0f} / p95 {p95:.0f} ms", "p95 <= 200 ms", p95 <= 200)]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def stage_serve(index_dir: Path, questions: list[dict], settings: IndexSettings) -> list[Row]:
    from gradio_client import Client

    port = free_port()
    newsdesk = Path(sys.executable).with_name("newsdesk")
    server = subprocess.Popen(
        [str(newsdesk), "serve", "--index", str(index_dir), "--port", str(port), "--backend", settings.backend],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"newsdesk serve exited: {server.stderr.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("newsdesk serve did not start within 300 s") from None
                time.sleep(0.5)
        client = Client(url, verbose=False)
        times, abstained = [], 0
        for q in questions:
            t = time.perf_counter()
            answer = client.predict(question=q["question"], as_of=_as_of(q), api_name="/ask")
            times.append((time.perf_counter() - t) * 1000)
            abstained += bool(answer.get("abstained"))
        client.close()
        rss = _peak_rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return [
        Row("serve", f"/ask over HTTP, {len(times)} questions one at a time ({abstained} abstained)",
            f"p50 {percentile(values=times, q=50):.0f} / p95 {percentile(values=times, q=95):.0f} ms"),
        Row("serve", "newsdesk serve peak resident memory (VmHWM)", f"{rss:,.0f} MB", "<= 1,536 MB", rss <= 1536),
    ]


def table(rows: list[Row]) -> str:
    lines = ["| stage | measure | value | target | met |", "|---|---|---|---|---|"]
    for r in rows:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.stage} | {r.measure} | {r.value} | {r.target} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a folder with articles.jsonl and questions.jsonl")
    parser.add_argument("--work", default="bench-out", help="where the index and results go (default bench-out)")
    parser.add_argument("--index", help="measure this built index instead of building one (skips 'build')")
    parser.add_argument("--only", default=",".join(STAGES), help=f"stages to run (default all: {','.join(STAGES)})")
    parser.add_argument("--embed-chunks", type=int, default=1000, help="chunks in the embedding comparison")
    parser.add_argument("--rounds", type=int, default=2, help="alternating embedding rounds (default 2)")
    parser.add_argument("--sizes", default="100000,1000000", help="dense collection sizes")
    parser.add_argument("--backend", default="auto", help="embedding backend (default auto)")
    args = parser.parse_args(argv)

    stages = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; valid: {', '.join(STAGES)}")
    dataset, work = Path(args.dataset), Path(args.work)
    articles = dataset / "articles.jsonl"
    if not articles.is_file() or not (dataset / "questions.jsonl").is_file():
        parser.error(f"{dataset} must hold articles.jsonl and questions.jsonl")
    work.mkdir(parents=True, exist_ok=True)
    settings = IndexSettings(backend=args.backend)
    index_dir = Path(args.index) if args.index else work / "index"
    if args.index:
        stages = [s for s in stages if s != "build"]
    elif "build" not in stages and not index_dir.exists():
        parser.error("the later stages need an index: keep 'build' or pass --index")
    questions = _dev_questions(dataset)

    rows: list[Row] = []
    started = time.perf_counter()
    for stage in stages:
        print(f"== {stage}", file=sys.stderr, flush=True)
        if stage == "embed":
            rows += stage_embed(articles, settings, args.embed_chunks, args.rounds)
        elif stage == "build":
            rows += stage_build(articles, index_dir, settings)
        elif stage == "dense":
            rows += stage_dense(index_dir, [q["question"] for q in questions],
                                [int(s) for s in args.sizes.split(",")], settings)
        elif stage == "latency":
            rows += stage_latency(index_dir, questions, settings)
        elif stage == "serve":
            rows += stage_serve(index_dir, questions, settings)
    print(f"\n{dataset} ({len(questions)} questions), index {index_dir}, {os.cpu_count()} CPUs, "
          f"{time.perf_counter() - started:.0f} s\n")
    print(table(rows))
    (work / "suite.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
