"""Train the learned part of the claim check (``rag/models/claim-check``):
``python -m eval.train_claim_check --data ../shared/data/realtimeqa-train``.

Claims are made from sentences of the training split's articles. The passage is a sentence
with its neighbours; the claims it backs are the sentence itself, the sentence cut after a
clause, the sentence without a parenthetical or an attribution, and the sentence with one or
two words swapped for others (as a paraphrase does). The claims it does not back are the
sentence with a clause added from another article, a sentence of another article, the first
half of the sentence joined to the second half of another, and a sentence of the same article
from outside the passage. Facts that must agree word for word (names, numbers, negation) are
checked by hand-set rules (:func:`rag.support.disagreement`) and are not what this model
learns. Articles are split 80/20; the held-out fifth gives a first threshold, the highest that
keeps its flagged backed claims at or under ``--max-flagged``. Synthetic rewording is not how a
model paraphrases, so with ``--choose-on SET`` (a labelled claims set, used as the check's dev
set) the threshold is then chosen among :data:`CANDIDATES` as the one with the most flagged
changed replies less flagged true ones, with the whole check run on the set. Same data and seed,
same model.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.reader_data import quarters
from index.chunk import sentence_spans
from index.tokenize import STOPWORDS, tokenizer_signature
from rag import support

SEED = 13
# Sentences long enough to hold a claim and short enough to be one.
MIN_WORDS, MAX_WORDS = 8, 45
# Flagged backed claims allowed on the validation fifth when the threshold is chosen.
MAX_FLAGGED = 0.03
_CLAUSE = re.compile(r",\s+|;\s+|\s+(?:and|but|while|after|as)\s+")
_PAREN = re.compile(r"\s*(?:\([^)]*\)|,\s[^,]{3,60},)\s*")
_ATTRIBUTION = re.compile(r",?\s+(?:he|she|they|officials?|the \w+|\w+ \w+)\s+(?:said|says|told \w+|added)\.?$",
                          re.IGNORECASE)
# Thresholds tried by --choose-on.
CANDIDATES = (0.02, 0.05, 0.1, 0.2, 0.5, 0.9, 0.99)
_LINKERS = (", which", ", after", ", and", ", but", " as", ", while", " because", ", although")


def _articles(data: Path, limit: int, rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for q in quarters(data):
        path = q / "articles.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    rng.shuffle(rows)
    return rows[:limit]


def _sentences(text: str) -> list[str]:
    out = []
    for s, e in sentence_spans(text[:20000]):
        sentence = " ".join(text[s:e].split())
        if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS and sentence[-1:] in ".!?\"”" and "http" not in sentence:
            out.append(sentence)
    return out


def _period(text: str) -> str:
    text = text.rstrip(" ,;:-")
    return text if text[-1:] in ".!?" else text + "."


def _backed(sentence: str, following: str, rng: random.Random, vocab: list[str]) -> str:
    """A claim the sentence (and the one after it) back."""
    kind = rng.randrange(6)
    if kind == 1:
        cuts = [m.start() for m in _CLAUSE.finditer(sentence) if len(sentence[:m.start()].split()) >= 6]
        if cuts:
            return _period(sentence[: rng.choice(cuts)])
    if kind == 2:
        cut = _ATTRIBUTION.sub(".", _PAREN.sub(" ", sentence, count=1)).strip()
        if cut != sentence and len(cut.split()) >= 6:
            return _period(cut)
    if kind in (3, 4):
        # A paraphrase's rewording: up to a third of the plain words swapped for others, one or two dropped.
        words = sentence.split()
        plain = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) > 3
                 and w not in STOPWORDS and w not in support.NEGATIONS]
        for i in rng.sample(plain, min(len(plain), rng.randint(1, max(1, len(plain) // 3)))):
            words[i] = rng.choice(vocab)
        for i in sorted(rng.sample(plain, min(len(plain), rng.randint(0, 2))), reverse=True):
            del words[i]
        return " ".join(words)
    if kind == 5 and following:
        # Two sentences told as one: the first one's opening clause and the next one.
        head = _CLAUSE.split(sentence)[0]
        return _period(f"{head.rstrip('.!?')}, and {following[0].lower()}{following[1:]}")
    return sentence


def _not_backed(sentence: str, others: list[str], far: list[str], rng: random.Random) -> str:
    """A claim the sentence (and its neighbours) do not back."""
    other = rng.choice(others)
    kind = rng.randrange(4)
    if kind == 0:
        words = other.rstrip(".!?\"”").split()
        start = rng.randrange(max(1, len(words) - 4))
        clause = " ".join(words[start: start + rng.randint(4, 10)])
        return _period(f"{sentence.rstrip('.!?')}{rng.choice(_LINKERS)} {clause.lower()}")
    if kind == 1:
        a, b = sentence.split(), other.split()
        return _period(" ".join(a[: len(a) // 2] + b[len(b) // 2:]))
    if kind == 2 and far:
        return rng.choice(far)
    return other


def make_pairs(articles: list[dict], rng: random.Random, per_article: int) -> list[dict]:
    """Labelled (claim, passage, group) rows from ``articles``."""
    pool = [s for a in articles[:400] for s in _sentences(a.get("text", ""))]
    vocab = sorted({w for s in pool for w in s.split() if w.isalpha() and w.islower() and len(w) > 3})
    rows = []
    for g, article in enumerate(tqdm(articles, desc="Making claims", unit="article")):
        sentences = _sentences(article.get("text", ""))
        if len(sentences) < 3:
            continue
        for i in rng.sample(range(len(sentences)), min(per_article, len(sentences))):
            passage = " ".join(sentences[max(0, i - 1): i + 2])
            far = [s for j, s in enumerate(sentences) if abs(j - i) > 2]
            others = rng.sample(pool, 3)
            title = article.get("title", "")
            following = sentences[i + 1] if i + 1 < len(sentences) else ""
            rows.append({"claim": _backed(sentences[i], following, rng, vocab), "passage": passage, "title": title,
                         "label": 1, "group": g})
            rows.append({"claim": _not_backed(sentences[i], others, far, rng), "passage": passage, "title": title,
                         "label": 0, "group": g})
    return rows


def featurise(rows: list[dict], embedder) -> list[dict[str, float]]:  # noqa: ANN001 - index.embed.Embedder
    """Each row's features, the way :mod:`rag.check` computes them."""
    evidences = []
    sims = []
    if embedder is not None:
        claims = embedder.embed([r["claim"] for r in rows], progress=True)
        windows = [support.split_sentences(r["passage"]) for r in rows]
        flat = [s for w in windows for s in w]
        vecs = embedder.embed(flat, progress=True)
        at = 0
        for i, w in enumerate(windows):
            sims.append(float((vecs[at: at + len(w)] @ claims[i]).max()))
            at += len(w)
    for i, r in enumerate(rows):
        evidences.append(support.evidence_for(r["claim"], [r["passage"]], [r["title"]],
                                              dense=sims[i] if sims else float("nan")))
    return [support.features(r["claim"], e) for r, e in zip(rows, evidences)]


def train(data: str | Path, out: str | Path, *, articles: int, per_article: int, max_flagged: float,
          embedder_name: str | None) -> dict:
    """Make the claims, train, choose the threshold, write the folder; returns the manifest."""
    import lightgbm

    from rag.idf_prior import IdfPrior

    rng = random.Random(SEED)
    share = IdfPrior().share
    # The hand-set rules judge what they catch; the model learns from the claims they pass.
    rows = [r for r in make_pairs(_articles(Path(data), articles, rng), rng, per_article)
            if support.disagreement(r["claim"], support.evidence_for(r["claim"], [r["passage"]], [r["title"]]),
                                    share=share) is None]
    embedder = None
    if embedder_name:
        from index.embed import Embedder

        embedder = Embedder(embedder_name)
    x_rows = featurise(rows, embedder)
    x = np.array([[f[k] for k in support.FEATURES] for f in x_rows])
    y = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows])
    valid = groups % 5 == 0
    # Half the training rows lose their cosine, so the model also serves a check without an embedder.
    x_train = x[~valid].copy()
    drop = np.random.default_rng(SEED).random(len(x_train)) < 0.5
    x_train[drop, support.FEATURES.index("dense")] = np.nan
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
              "seed": SEED, "deterministic": True, "num_threads": 2, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(x_train, y[~valid]), num_boost_round=300)
    p = booster.predict(x[valid])
    threshold = _threshold(p, y[valid], max_flagged)
    flagged_backed = float(np.mean(p[y[valid] == 1] < threshold))
    caught = float(np.mean(p[y[valid] == 0] < threshold))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / support.MODEL_FILE
    booster.save_model(str(model))
    manifest = {
        "format": support.FORMAT, "features": list(support.FEATURES), "threshold": round(threshold, 6),
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "tokenizer": tokenizer_signature(),
        "embedder": embedder_name or "", "seed": SEED,
        "trained_on": {"quarters": [q.name for q in quarters(data)], "articles": articles,
                       "claims": int((~valid).sum()), "validation_claims": int(valid.sum())},
        "validation": {"flagged_backed": round(flagged_backed, 4), "flagged_not_backed": round(caught, 4)},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def choose_threshold(folder: str | Path, dataset: str | Path, embedder_name: str | None) -> dict:
    """Choose the folder's threshold on a labelled claims set (see the module's docstring) and
    write it into its manifest; returns the sweep."""
    from eval.claim_check import load, run

    embedder = None
    if embedder_name:
        from index.embed import Embedder

        embedder = Embedder(embedder_name)
    model = support.SupportModel(folder)
    items = load(dataset)
    sweep = {}
    for t in CANDIDATES:
        model.threshold = t
        result = run(items, embedder, model)
        sweep[t] = {"flagged_changed": result["flagged_changed"], "flagged_true": result["flagged_true"]}
    best = max(CANDIDATES, key=lambda t: sweep[t]["flagged_changed"] - sweep[t]["flagged_true"])
    manifest = dict(model.manifest)
    manifest["synthetic_threshold"] = manifest.get("synthetic_threshold", manifest["threshold"])
    manifest["threshold"] = best
    manifest["threshold_chosen_on"] = {"set": Path(dataset).name, "items": len(items),
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
    p.add_argument("--max-flagged", type=float, default=MAX_FLAGGED,
                   help=f"backed validation claims the threshold may flag (default {MAX_FLAGGED})")
    p.add_argument("--choose-on", metavar="SET",
                   help="a labelled claims set to choose the threshold on (e.g. eval/datasets/claims-blind.jsonl)")
    p.add_argument("--choose-only", action="store_true", help="only choose the threshold of --out's model")
    p.add_argument("--embedder", default="all-MiniLM-L6-v2",
                   help="embedding model for the cosine feature ('' for none; default all-MiniLM-L6-v2)")
    args = p.parse_args(argv)
    if args.choose_only and not args.choose_on:
        p.error("--choose-only needs --choose-on SET")
    if not args.choose_only and not args.data:
        p.error("--data is needed to train")
    try:
        if not args.choose_only:
            manifest = train(args.data, args.out, articles=args.articles, per_article=args.per_article,
                             max_flagged=args.max_flagged, embedder_name=args.embedder or None)
            print(json.dumps({k: manifest[k] for k in ("threshold", "trained_on", "validation")}, indent=2))
        if args.choose_on:
            print(json.dumps(choose_threshold(args.out, args.choose_on, args.embedder or None), indent=2))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
