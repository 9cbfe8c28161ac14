"""Labelled (claim, passage) pairs from the training split, for the claim check's cross-encoder
(``python -m eval.train_claim_check``).

Each quiz question of the training split lists the articles that web search returned for it:
several outlets' reports of one story. Their sentences give:

* **real paraphrase, labelled backed**: the shorter of two sentences of two reports that mean
  nearly the same (cosine >= ``PARAPHRASE``) and agree on every name, number and negation, is
  backed by the longer one;
* **a sentence and its own variants** (:func:`self_pairs`): the sentence, cut after a clause,
  without a parenthetical, reworded, or told with the next one is backed by it and its
  neighbours; a clause added from another article, another article's sentence, a splice of
  two, or a sentence from elsewhere in the article is not;
* **the same pairs with one fact changed, labelled not backed** (:func:`changed`): a name put in
  the place of another of the passage's (who did what to whom), a word for its opposite, a
  negation put in or taken out, a number changed, a clause added from another story;
* **another fact of the same story, labelled not backed**: a pair that shares the story but
  not the fact (cosine between ``RELATED`` and ``PARAPHRASE - 0.1``).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eval.reader_data import quarters
from index.chunk import sentence_spans
from index.tokenize import STOPWORDS, terms
from rag import support

# Sentences long enough to hold a claim and short enough to be one.
MIN_WORDS, MAX_WORDS = 8, 45
# Characters of an article its own variants are made from.
SELF_CHARS = 20_000
# Sentences read from each report.
PER_ARTICLE = 30
# Cosine (all-MiniLM-L6-v2) above which two reports' sentences tell one fact...
PARAPHRASE = 0.8
# ...and from which up to PARAPHRASE - 0.1 they tell the same story but another fact.
RELATED = 0.5

_CLAUSE = re.compile(r",\s+|;\s+|\s+(?:and|but|while|after|as)\s+")
_PAREN = re.compile(r"\s*(?:\([^)]*\)|,\s[^,]{3,60},)\s*")
_ATTRIBUTION = re.compile(r",?\s+(?:he|she|they|officials?|the \w+|\w+ \w+)\s+(?:said|says|told \w+|added)\.?$",
                          re.IGNORECASE)
_LINKERS = (", which", ", after", ", and", ", but", " as", ", while", " because", ", although")
_AUXILIARIES = re.compile(r"\b(is|was|were|are|has|have|had|will|would|can|could|did|does|do|should)\b")
_NOT = re.compile(r"\s+(?:not|never)\b|n['’]t\b")
_DIGITS = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_NAME_RUN = re.compile(r"(?<=[a-z,;] )((?:[A-Z][\w'’-]+ ?){1,3})")
_SURFACE_OPPOSITES: dict[str, list[str]] = {}
for _a, _b in support.OPPOSITE_PAIRS:
    _SURFACE_OPPOSITES.setdefault(_a, []).append(_b)
    _SURFACE_OPPOSITES.setdefault(_b, []).append(_a)


def sentences(text: str, chars: int = 30_000) -> list[str]:
    """The sentences of the article's first ``chars`` characters that can serve as claims."""
    out = []
    for s, e in sentence_spans(text[:chars]):
        sentence = " ".join(text[s:e].split())
        if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS and sentence[-1:] in ".!?\"”" and "http" not in sentence:
            out.append(sentence)
    return out


def story_groups(data: Path, limit: int, rng: random.Random) -> list[list[dict]]:
    """Up to ``limit`` questions' reports (two or more articles each), shuffled."""
    groups = []
    for q in quarters(data):
        with gzip.open(q / "articles.jsonl.gz", "rt", encoding="utf-8") as f:
            by_url = {a["url"]: a for a in map(json.loads, f) if a.get("url")}
        with gzip.open(q / "questions.jsonl.gz", "rt", encoding="utf-8") as f:
            for question in map(json.loads, f):
                found = [by_url[u] for u in question.get("gold_urls", []) if u in by_url]
                if len(found) >= 2:
                    groups.append(found)
    rng.shuffle(groups)
    return groups[:limit]


def changed(claim: str, passage: str, rng: random.Random, other: str) -> str | None:
    """``claim`` with one fact changed against ``passage`` (None when no change applies)."""
    kinds = ["swap", "swap", "opposite", "negation", "number", "clause"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "swap":
            mine = [m.span(1) for m in _NAME_RUN.finditer(claim)]
            options = [m.group(1).strip() for m in _NAME_RUN.finditer(passage)
                       if m.group(1).strip() not in claim and m.group(1).strip().lower() not in STOPWORDS]
            if mine and options:
                s, e = rng.choice(mine)
                return claim[:s] + rng.choice(options) + " " + claim[e:].lstrip()
        elif kind == "opposite":
            words = claim.split()
            spots = [i for i, w in enumerate(words) if w.lower().strip(".,") in _SURFACE_OPPOSITES]
            if spots:
                i = rng.choice(spots)
                bare = words[i].lower().strip(".,")
                words[i] = words[i].lower().replace(bare, rng.choice(_SURFACE_OPPOSITES[bare]))
                return " ".join(words)
        elif kind == "negation":
            if _NOT.search(claim):
                return _NOT.sub("", claim, count=1)
            m = _AUXILIARIES.search(claim)
            if m:
                return claim[:m.end()] + " not" + claim[m.end():]
        elif kind == "number":
            m = _DIGITS.search(claim)
            if m and m.group().replace(",", "").replace(".", "").isdigit():
                value = int(m.group().replace(",", "").replace(".", ""))
                new = str(value + rng.choice([-1, 1]) * max(1, round(value * rng.uniform(0.1, 0.5))))
                return claim[:m.start()] + new + claim[m.end():]
        else:
            words = other.rstrip(".!?\"”").split()
            start = rng.randrange(max(1, len(words) - 4))
            clause = " ".join(words[start: start + rng.randint(4, 10)])
            return _period(f"{claim.rstrip('.!?')}{rng.choice(_LINKERS)} {clause.lower()}")
    return None


def articles(data: Path, limit: int, rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for q in quarters(data):
        path = q / "articles.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    rng.shuffle(rows)
    return rows[:limit]


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


def self_pairs(articles: list[dict], rng: random.Random, per_article: int) -> list[dict]:
    """Labelled (claim, passage, group) rows from ``articles``."""
    pool = [s for a in articles[:400] for s in sentences(a.get("text", ""), SELF_CHARS)]
    vocab = sorted({w for s in pool for w in s.split() if w.isalpha() and w.islower() and len(w) > 3})
    rows = []
    for n, article in enumerate(tqdm(articles, desc="Claims from sentences", unit="article")):
        g = f"article{n}"
        found = sentences(article.get("text", ""), SELF_CHARS)
        if len(found) < 3:
            continue
        for i in rng.sample(range(len(found)), min(per_article, len(found))):
            passage = " ".join(found[max(0, i - 1): i + 2])
            far = [s for j, s in enumerate(found) if abs(j - i) > 2]
            others = rng.sample(pool, 3)
            title = article.get("title", "")
            following = found[i + 1] if i + 1 < len(found) else ""
            rows.append({"claim": _backed(found[i], following, rng, vocab), "passage": passage, "title": title,
                         "label": 1, "group": g, "source": "self"})
            rows.append({"claim": _not_backed(found[i], others, far, rng), "passage": passage, "title": title,
                         "label": 0, "group": g, "source": "self"})
    return rows


def mined_pairs(groups: list[list[dict]], embedder, rng: random.Random) -> list[dict]:  # noqa: ANN001
    """Pairs from several reports of one story (see the module's docstring); ``group`` is the story."""
    texts = [[sentences(a.get("text", ""))[:PER_ARTICLE] for a in g] for g in groups]
    # A sentence in many articles is a site's boilerplate ("Sign up for our newsletter"), not news.
    seen = Counter(s for g in texts for article in g for s in set(article))
    flat = [s for g in texts for article in g for s in article]
    vectors = embedder.embed(flat, progress=True)
    at = 0
    out: list[dict] = []
    pool = flat[::50]
    for n, (g, reports) in enumerate(tqdm(list(zip(groups, texts)), desc="Pairs", unit="story")):
        spans = []
        for article in reports:
            spans.append((at, at + len(article)))
            at += len(article)
        for i, (s1, e1) in enumerate(spans):
            for j, (s2, e2) in enumerate(spans):
                if j <= i or e1 == s1 or e2 == s2:
                    continue
                sims = vectors[s1:e1] @ vectors[s2:e2].T
                for a, b in zip(*np.nonzero(sims >= RELATED)):
                    one, two = flat[s1 + a], flat[s2 + b]
                    if seen[one] > 1 or seen[two] > 1 or one == two:
                        continue
                    claim, passage = (one, two) if len(terms(one)) <= len(terms(two)) else (two, one)
                    title = g[j if passage == two else i].get("title", "")
                    row = {"claim": claim, "passage": passage, "title": title, "group": f"story{n}"}
                    if sims[a, b] >= PARAPHRASE:
                        evidence = support.evidence_for(claim, [passage], [title])
                        if support.disagreement(claim, evidence) is not None:
                            continue
                        out.append(dict(row, label=1, source="paraphrase"))
                        wrong = changed(claim, passage, rng, rng.choice(pool))
                        if wrong:
                            out.append(dict(row, claim=wrong, label=0, source="changed"))
                    elif sims[a, b] < PARAPHRASE - 0.1 and rng.random() < 0.15:
                        out.append(dict(row, label=0, source="related"))
    return out
