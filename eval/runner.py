"""``newsdesk eval``: run a question set through one or more pipeline variants and report.

For each variant the runner derives an assistant from one opened index
(``assistant.with_config(**VARIANTS[name])``) and, per question, times
``search(k=10)`` (scored for retrieval), ``ask`` (what users get: scored for answers and
abstention) and, with choices, ``choose``. Only :class:`rag.Assistant` is called.
A variant named ``...+llm`` asks the configured language model (``--llm-gguf`` or
``--llm-base-url``) for its answers; every other variant answers offline. A variant named
``...+engine`` runs its searches in the engine at ``--backend-url``; the others search the
index folder, so ``--compare hybrid,hybrid+engine`` sets the two backends side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from collections.abc import Sequence

from tqdm import tqdm

from eval import gate
from eval.collection import IndexInfo, prepare_index
from eval.data import load_dataset, question_summary
from eval.questions import Question
from eval.report import summary_table, write_report
from eval.scoring import SEARCH_K, QuestionResult, RunResult, aggregate, recall_curve, score_question
from eval.variants import VARIANTS
from rag import Assistant, Config
from rag.config import config_from_options


def parse_variants(compare: str) -> list[str]:
    """``"bm25, hybrid"`` -> ``["bm25", "hybrid"]``, checked against :data:`eval.variants.VARIANTS`.

    Raises:
        ValueError: an unknown name (the valid ones are listed) or an empty list.
    """
    names = list(dict.fromkeys(n.strip() for n in (compare or "").split(",") if n.strip()))
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"unknown variant(s) {unknown or [compare]} for --compare; valid: {', '.join(VARIANTS)}")
    return names


def uses_engine(name: str) -> bool:
    """Whether variant ``name`` searches in the engine at ``--backend-url`` (``...+engine``); the
    others search the index folder."""
    return name.endswith("+engine")


def uses_llm(name: str) -> bool:
    """Whether variant ``name`` answers with the language model (``...+llm``); the others answer offline."""
    return name.endswith("+llm")


def run_question(assistant: Assistant, q: Question, *, backend: str = "extractive") -> QuestionResult:
    """Ask one question the three ways and score it (``ask`` with ``backend``)."""
    history = list(q.history) or None
    t0 = time.perf_counter()
    answer = assistant.ask(q.question, history=history, as_of=q.as_of, backend=backend)
    t1 = time.perf_counter()
    # A follow-up is searched as the standalone query ``ask`` made of it, so that retrieval is
    # scored on what the answer was built from.
    query = (answer.query or q.question) if history else q.question
    passages = assistant.search(query, k=SEARCH_K, as_of=q.as_of)
    t2 = time.perf_counter()
    choice, choose_ms = None, None
    if q.choices is not None:
        choice = assistant.choose(q.question, q.choices, as_of=q.as_of)
        choose_ms = (time.perf_counter() - t2) * 1000
    return QuestionResult(
        id=q.id, kind=q.kind, question=q.question, as_of=q.as_of.isoformat() if q.as_of else None,
        expected=q.answers, relevant_ids=q.relevant_ids, retrieved_ids=tuple(p.article_id for p in passages),
        answer=answer.text, abstained=answer.abstained, citations=len(answer.citations),
        choice=choice.choice if choice else None, search_ms=(t2 - t1) * 1000, latency_ms=(t1 - t0) * 1000,
        choose_ms=choose_ms, scores=score_question(q, passages=passages, answer=answer, choice=choice),
        recall_curve=recall_curve(q, passages),
        disagreement=answer.disagreement.kind if answer.disagreement else None,
    )


def run_variant(assistant: Assistant, questions: Sequence[Question], *, name: str, changes: dict,
                index: IndexInfo | None = None, progress: bool = True) -> RunResult:
    """Every question through one assistant, with a progress bar; returns rows and metrics."""
    backend = "llm" if uses_llm(name) else "extractive"
    # One untimed question first: the first calls pay one-off costs (model warm-up, caches).
    assistant.ask(questions[0].question, as_of=questions[0].as_of, backend=backend)
    rows = [run_question(assistant, q, backend=backend)
            for q in tqdm(questions, desc=name, unit="q", disable=not progress)]
    metrics = aggregate(rows, build_seconds=index.build_seconds if index else None,
                        chunks_per_second=index.chunks_per_second if index else None)
    return RunResult(name=name, changes=dict(changes), metrics=metrics, questions=rows)


def config_dict(config: Config) -> dict:
    """The config as JSON-ready data, without secrets."""
    d = dataclasses.asdict(config)
    d["generator"].pop("api_key", None)
    return d


def main(args: argparse.Namespace) -> int:
    """Run ``newsdesk eval``; returns 0, or 1 when ``--gate`` finds a threshold broken.

    Raises:
        ValueError: a bad ``--compare``, ``--limit`` or ``--gate`` use, or a bad question file.
        FileNotFoundError: the dataset folder or its files are missing.
    """
    names = parse_variants(args.compare)
    endpoint = {n: getattr(args, n, None) for n in ("llm_base_url", "llm_model")}
    if any(uses_llm(n) for n in names) and not all(endpoint.values()):
        raise ValueError("the +llm variants need a language model: give --llm-gguf PATH, or --llm-base-url "
                         "and --llm-model")
    engine = getattr(args, "backend_url", None)
    if any(uses_engine(n) for n in names) and not engine:
        raise ValueError("the +engine variants need a search engine: give --backend-url URL "
                         "(e.g. milvus-lite:///tmp/newsdesk.db or http://HOST:19530)")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be a positive number of questions, got {args.limit!r}")
    dataset = load_dataset(args.dataset)
    thresholds = None
    if args.gate:
        if str(args.dataset) != "sample":
            raise ValueError("--gate checks the sample dataset's thresholds; use it with --dataset sample")
        thresholds = gate.load_thresholds()
    questions = dataset.questions[: args.limit] if args.limit else dataset.questions
    print(question_summary(dataset) + (f"; running the first {len(questions)}" if args.limit else ""))

    # A cross-encoder joins every variant; ``hybrid-crossencoder`` runs without it.
    options = ("model", "backend", "cross_encoder", "cross_encoder_top", "llm_context_tokens", "llm_deadline",
               "llm_max_bytes", "reader", "reader_cross_encoder", "conflicts",
               "followup", "idf_prior")
    config = config_from_options({**{n: getattr(args, n, None) for n in options}, **endpoint})
    info = prepare_index(dataset, settings=config.index, index_dir=args.index)
    state = "reused" if info.up_to_date else "built"
    print(f"Index {info.index_dir} {state}: {info.chunks:,} chunks"
          + (f", build {info.build_seconds:.1f} s" if info.build_seconds is not None else ""))
    base = Assistant.from_index(info.index_dir, config=config, progress=False)
    runs = [run_variant(base.with_config(**VARIANTS[n], engine=engine if uses_engine(n) else None), questions,
                        name=n, changes=VARIANTS[n], index=info)
            for n in names]

    print()
    print(summary_table(runs))
    header = {"dataset": {**dataset.to_dict(), "questions": len(questions), "limit": args.limit},
              "config": config_dict(base.config), "index": info.to_dict(),
              # Latencies mean little without the machine they were measured on.
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S")}}
    paths = write_report(args.out, header=header, runs=runs)
    print(f"\nWrote {', '.join(str(p) for p in paths)}")

    if thresholds is None:
        return 0
    failures = [f"{r.name}: {line}" for r in runs for line in gate.check(r.metrics, thresholds)]
    if failures:
        print("\nGate FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"\nGate passed ({len(thresholds)} thresholds, {len(runs)} run(s)).")
    return 0
