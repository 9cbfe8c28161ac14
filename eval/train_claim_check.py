"""Train the learned part of the claim check (``rag/models/claim-check``):
``python -m eval.train_claim_check --data ../shared/data/realtimeqa-train --choose-on SETS``
(SETS: ``eval/datasets/claims-blind.jsonl,eval/datasets/claims-blind2.jsonl``).

The labelled pairs come from :mod:`eval.claim_data` (sentences of the training split's articles
and their variants; what several outlets wrote of one quiz question's story, and those pairs
with one fact changed). Six tenths of the stories and articles teach a cross-encoder (from the
bundled all-MiniLM-L6-v2, exported as int8 ONNX) to read a claim against its closest passage
sentences; three tenths teach a LightGBM combiner over its probability and the word-level
features of :func:`rag.support.features`, among the claims the hand-set rules pass; the last
tenth gives a first threshold (the highest that keeps its flagged backed claims at or under
``--max-flagged``). ``--choose-on`` then chooses the threshold among :data:`CANDIDATES` on
labelled claims sets (the check's dev sets): the most flagged changed replies less flagged true
ones. Same data and seed, same pairs; the fine-tuning runs on threads and may differ in the last
digits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval import claim_data
from eval.reader_data import quarters
from index.tokenize import tokenizer_signature
from rag import support

SEED = 13
# The cross-encoder's training: pairs per batch, learning rate, passes over the pairs.
BATCH, LEARNING_RATE, EPOCHS = 32, 3e-5, 1
# Flagged backed claims allowed on the validation fifth when the threshold is chosen.
MAX_FLAGGED = 0.03
# Thresholds tried by --choose-on.
CANDIDATES = (0.02, 0.05, 0.1, 0.2, 0.5, 0.9, 0.99)


def fine_tune(rows: list[dict], base: str, out: Path, *, epochs: int, budget_s: float,
              max_steps: int | None = None) -> dict:
    """Fine-tune a one-logit cross-encoder from ``base`` on (claim, closest passage sentences)
    pairs with binary cross-entropy; saves it (transformers format) to ``out``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from eval.train_reader import optimiser

    hf_logging.set_verbosity_error()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, local_files_only=True)
    model.train()
    pairs = [(r["claim"], support.evidence_for(r["claim"], [r["passage"]]).sentence, float(r["label"])) for r in rows]
    total = max(1, (len(pairs) + BATCH - 1) // BATCH * epochs)
    take_step = optimiser(model, LEARNING_RATE, total)
    rng = random.Random(SEED)
    start, step, cut = time.perf_counter(), 0, False
    bar = tqdm(total=total, desc="Fine-tuning the claim cross-encoder", unit="batch")
    for _ in range(epochs):
        rng.shuffle(pairs)
        for i in range(0, len(pairs), BATCH):
            batch = pairs[i:i + BATCH]
            enc = tokenizer([b[0] for b in batch], [b[1] for b in batch], truncation="longest_first",
                            max_length=support.CE_MAX_TOKENS, padding=True, return_tensors="pt")
            logits = model(**enc).logits.view(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([b[2] for b in batch]))
            take_step(loss)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if time.perf_counter() - start > budget_s or (max_steps is not None and step >= max_steps):
                cut = True
                break
        if cut:
            break
    bar.close()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"steps": step, "planned_steps": total, "pairs": len(pairs),
            "seconds": round(time.perf_counter() - start, 1), "cut_by_time_budget": cut}


def featurise(rows: list[dict], embedder, cross: support.CrossEncoder) -> list[dict[str, float]]:  # noqa: ANN001
    """Each row's features, the way :mod:`rag.check` computes them."""
    claims = embedder.embed([r["claim"] for r in rows], progress=True)
    windows = [support.split_sentences(r["passage"]) for r in rows]
    vecs = embedder.embed([s for w in windows for s in w], progress=True)
    out, at = [], 0
    for i, r in enumerate(tqdm(rows, desc="Features", unit="claim")):
        dense = float((vecs[at: at + len(windows[i])] @ claims[i]).max())
        at += len(windows[i])
        evidence = support.evidence_for(r["claim"], [r["passage"]], [r["title"]], dense=dense)
        out.append(support.features(r["claim"], evidence, ce=cross.probability(r["claim"], evidence.sentence)))
    return out


def _part(group: str) -> int:
    """Which tenth of the data a story or article falls in (the same for all its rows)."""
    return zlib.crc32(group.encode()) % 10


def make_rows(data: Path, *, articles: int, per_article: int, stories: int, embedder, cache: Path | None) -> list[dict]:  # noqa: ANN001
    """The labelled pairs (cached in ``cache`` as JSONL when given)."""
    if cache is not None and cache.is_file():
        return [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(SEED)
    mined = claim_data.mined_pairs(claim_data.story_groups(data, stories, rng), embedder, rng)
    related = [r for r in mined if r["source"] == "related"]
    rng.shuffle(related)  # as many other-fact pairs as paraphrases
    rows = [r for r in mined if r["source"] != "related"] + related[: sum(r["label"] for r in mined)]
    rows += claim_data.self_pairs(claim_data.articles(data, articles, rng), rng, per_article)
    if cache is not None:
        cache.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def train(data: str | Path, out: str | Path, *, articles: int, per_article: int, stories: int,
          max_flagged: float, embedder_name: str, budget_s: float, work: Path, max_steps: int | None = None) -> dict:
    """Make the pairs, train the cross-encoder and the combiner, write the folder; returns the manifest."""
    import lightgbm

    from eval.train_reader import export_onnx
    from index.embed import Embedder, resolve_model
    from rag.idf_prior import IdfPrior

    embedder = Embedder(embedder_name)
    work.mkdir(parents=True, exist_ok=True)
    rows = make_rows(Path(data), articles=articles, per_article=per_article, stories=stories, embedder=embedder,
                     cache=work / "pairs.jsonl")
    # Six tenths teach the cross-encoder, three the combiner (which reads the cross-encoder's
    # scores, so not on what it learned from), one checks the result.
    ce_rows = [r for r in rows if _part(r["group"]) < 6]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tuned = fine_tune(ce_rows, resolve_model(embedder_name), work / "cross-encoder", epochs=EPOCHS, budget_s=budget_s,
                      max_steps=max_steps)
    export_onnx(work / "cross-encoder", folder)
    cross = support.CrossEncoder(folder)
    share = IdfPrior().share
    # The hand-set rules judge what they catch; the combiner learns from the claims they pass.
    rest = [r for r in rows if _part(r["group"]) >= 6 and support.disagreement(
        r["claim"], support.evidence_for(r["claim"], [r["passage"]], [r["title"]]), share=share) is None]
    x = np.array([[f[k] for k in support.FEATURES] for f in featurise(rest, embedder, cross)])
    y = np.array([r["label"] for r in rest])
    valid = np.array([_part(r["group"]) == 9 for r in rest])
    # Half the training rows lose their cosine, so the model also serves a check without an embedder.
    x_train = x[~valid].copy()
    drop = np.random.default_rng(SEED).random(len(x_train)) < 0.5
    x_train[drop, support.FEATURES.index("dense")] = np.nan
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
              "seed": SEED, "deterministic": True, "num_threads": 2, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(x_train, y[~valid]), num_boost_round=200)
    p = booster.predict(x[valid])
    threshold = _threshold(p, y[valid], max_flagged)
    model = folder / support.MODEL_FILE
    booster.save_model(str(model))
    manifest = {
        "format": support.FORMAT, "features": list(support.FEATURES), "threshold": round(threshold, 6),
        "sha256": {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in support.FILES},
        "tokenizer": tokenizer_signature(), "embedder": embedder_name, "seed": SEED,
        "cross_encoder": {"base": embedder_name, "max_tokens": support.CE_MAX_TOKENS, **tuned},
        "trained_on": {"quarters": [q.name for q in quarters(data)], "articles": articles, "stories": stories,
                       "pairs": len(rows), "cross_encoder_pairs": len(ce_rows),
                       "combiner_claims": int((~valid).sum()), "validation_claims": int(valid.sum())},
        "validation": {"flagged_backed": round(float(np.mean(p[y[valid] == 1] < threshold)), 4),
                       "flagged_not_backed": round(float(np.mean(p[y[valid] == 0] < threshold)), 4)},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def choose_threshold(folder: str | Path, datasets: list[str], embedder_name: str | None) -> dict:
    """Choose the folder's threshold on labelled claims sets (see the module's docstring) and
    write it into its manifest; returns the sweep."""
    from eval.claim_check import load, run

    embedder = None
    if embedder_name:
        from index.embed import Embedder

        embedder = Embedder(embedder_name)
    model = support.SupportModel(folder)
    items = [item for dataset in datasets for item in load(dataset)]
    sweep = {}
    for t in CANDIDATES:
        model.threshold = t
        result = run(items, embedder, model)
        sweep[t] = {"flagged_changed": result["flagged_changed"], "flagged_true": result["flagged_true"]}
    best = max(CANDIDATES, key=lambda t: sweep[t]["flagged_changed"] - sweep[t]["flagged_true"])
    manifest = dict(model.manifest)
    manifest["synthetic_threshold"] = manifest.get("synthetic_threshold", manifest["threshold"])
    manifest["threshold"] = best
    manifest["threshold_chosen_on"] = {"sets": [Path(d).name for d in datasets], "items": len(items),
                                       "sweep": {str(t): v for t, v in sweep.items()}}
    (Path(folder) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest["threshold_chosen_on"]


def _threshold(p: np.ndarray, y: np.ndarray, max_flagged: float) -> float:
    """The highest threshold under which at most ``max_flagged`` of the backed claims fall."""
    backed = np.sort(p[y == 1])
    k = int(np.floor(max_flagged * len(backed)))
    return float(backed[k]) if len(backed) else 0.5


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.train_claim_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="the training split (folders of articles); needed unless --choose-only")
    p.add_argument("--out", default=str(support.BUNDLED), help="folder to write (default: the bundled one)")
    p.add_argument("--articles", type=int, default=3000, help="articles sampled (default 3000)")
    p.add_argument("--per-article", type=int, default=2, help="sentences per article (default 2)")
    p.add_argument("--stories", type=int, default=600, help="quiz questions' stories mined (default 600)")
    p.add_argument("--budget", type=float, default=1800, help="seconds the fine-tuning may take (default 1800)")
    p.add_argument("--max-steps", type=int, help="stop the fine-tuning after this many batches (for a rerun)")
    p.add_argument("--work", default="/tmp/newsdesk-claim-check", help="folder for the pairs cache and checkpoints")
    p.add_argument("--max-flagged", type=float, default=MAX_FLAGGED,
                   help=f"backed validation claims the threshold may flag (default {MAX_FLAGGED})")
    p.add_argument("--choose-on", metavar="SETS",
                   help="comma-separated labelled claims sets to choose the threshold on")
    p.add_argument("--choose-only", action="store_true", help="only choose the threshold of --out's model")
    p.add_argument("--embedder", default="all-MiniLM-L6-v2",
                   help="the cosine feature's model and the cross-encoder's base (default all-MiniLM-L6-v2)")
    args = p.parse_args(argv)
    if args.choose_only and not args.choose_on:
        p.error("--choose-only needs --choose-on SET")
    if not args.choose_only and not args.data:
        p.error("--data is needed to train")
    try:
        if not args.choose_only:
            manifest = train(args.data, args.out, articles=args.articles, per_article=args.per_article,
                             stories=args.stories, max_flagged=args.max_flagged, embedder_name=args.embedder,
                             budget_s=args.budget, work=Path(args.work), max_steps=args.max_steps)
            print(json.dumps({k: manifest[k] for k in ("threshold", "trained_on", "validation")}, indent=2))
        if args.choose_on:
            print(json.dumps(choose_threshold(args.out, args.choose_on.split(","), args.embedder), indent=2))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
