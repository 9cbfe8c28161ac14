"""Checks a generated answer against the passages it cites.

A model can cite passages that were never shown ([7] of 3), or write sentences its
sources do not back. After generation:

* markers that point at no passage are removed, and reported;
* each answer sentence is checked against the passages it cites by meaning
  (:mod:`rag.support`): its names, days, months and numbers must be there, its negation and
  direction must agree with the closest passage sentence, it must not repeat itself, link
  elsewhere or echo an instruction, and a learned score must find the rest of it there (an
  added clause fails);
* a factual sentence without any citation is given the passage that backs it best, when one
  passes the same test (small models often state the answer and forget the marker);
  otherwise it is reported as unsupported. Instruction sentences in a passage never back one.

Problems are reported as warnings. A sentence that fails the check is *flagged*: it is taken
out of the answer text and listed in ``Checked.flagged`` (never with a source card), and
every surface shows it apart, as flagged, never as the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from index.chunk import sentence_spans
from index.embed import Embedder
from index.tokenize import terms
from rag import support
from rag.idf_prior import IdfPrior
from rag.records import Passage

# Sentences with fewer content words ("They met in July.") are too short for the learned score;
# their names, numbers and negation are still checked.
MIN_CLAIM_TERMS = 3
# An uncited sentence with this many content words states something, and must be backed.
MIN_UNCITED_TERMS = 2
# Longest "[a-b]" range read as a list of passages.
MAX_RANGE = 10
# Characters of a sentence quoted in a warning.
QUOTE_CHARS = 120

# [1], [1, 2], [1-3], [Passage 2]
MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*)\s*\]", re.IGNORECASE)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+\])+")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+(?=[.,;:!?])")
_RUNS_OF_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class Claim:
    """One answer sentence: its text without markers, and the passage numbers it cites."""

    text: str
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class Support:
    """The passage sentence that best backs a claim: offsets in the article text, and its score (0..1)."""

    number: int
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Checked:
    """The result of :func:`check`.

    ``text`` keeps only valid markers (passage numbers as given to the model); ``numbers`` are
    the cited passage numbers in order of first use; ``quotes`` maps each to its best-supporting
    sentence for the first answer sentence citing it.
    """

    text: str
    numbers: list[int]
    warnings: list[str]
    quotes: dict[int, Support] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)  # sentences the check rejected, as they read in ``text``


@dataclass(frozen=True)
class _Sentence:
    start: int  # in the article text
    end: int
    text: str
    terms: frozenset[str]


def _parse_numbers(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
        lo, hi = bounds[0], bounds[-1]
        # "[1-3]" means 1, 2 and 3; a reversed or implausibly long range counts as its first number.
        out.extend(range(lo, hi + 1) if 0 < hi - lo < MAX_RANGE else [lo])
    return out


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return f"\u201c{text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + '…'}\u201d"


def clean_markers(text: str, count: int) -> tuple[str, list[str]]:
    """``text`` with markers rewritten as ``[a][b]``, dropping numbers outside ``1..count``."""
    warnings: list[str] = []
    invalid: list[int] = []

    def fix(m: re.Match) -> str:
        kept: list[int] = []
        for n in _parse_numbers(m.group(1)):
            if 1 <= n <= count:
                if n not in kept:
                    kept.append(n)
            elif n not in invalid:
                invalid.append(n)
        return "".join(f"[{n}]" for n in kept)

    text = MARKER.sub(fix, text)
    if invalid:
        text = _RUNS_OF_SPACES.sub(" ", _SPACE_BEFORE_PUNCT.sub("", text))
        cited = ", ".join(f"[{n}]" for n in invalid)
        warnings.append(f"Removed citation {cited}: the model was given only {count} passage"
                        f"{'s' if count != 1 else ''}, so it points at no source.")
    return text.strip(), warnings


def split_claims(text: str) -> list[Claim]:
    """The sentences of ``text`` with the markers each cites; a marker after the full stop
    ("… in July. [2]") belongs to the sentence before it."""
    return [claim for claim, _ in _claims_and_markers(text)]


def _claims_and_markers(text: str) -> list[tuple[Claim, list[tuple[int, int]]]]:
    """:func:`split_claims`, with the (start, end) in ``text`` of each claim's markers."""
    return [(claim, spans) for claim, spans, _ in _claims_markers_ends(text)]


def _claims_markers_ends(text: str) -> list[tuple[Claim, list[tuple[int, int]], int]]:
    """:func:`_claims_and_markers`, with where in ``text`` each claim's sentence ends."""
    pieces: list[list] = []  # [text, numbers, marker spans, end]
    for s, e in sentence_spans(text):
        sentence = text[s:e]
        lead = _LEADING_MARKERS.match(sentence)
        if lead and pieces:
            pieces[-1][1].extend(int(n) for n in re.findall(r"\d+", lead.group()))
            pieces[-1][2].append((s, s + lead.end()))
            s, sentence = s + lead.end(), sentence[lead.end():]
        found = list(MARKER.finditer(sentence))
        numbers = [n for m in found for n in _parse_numbers(m.group(1))]
        spans = [(s + m.start(), s + m.end()) for m in found]
        body = _SPACE_BEFORE_PUNCT.sub("", MARKER.sub("", sentence)).strip()
        if body:
            pieces.append([body, numbers, spans, s + len(sentence.rstrip())])
        elif pieces:  # a line of markers alone
            pieces[-1][1].extend(numbers)
            pieces[-1][2].extend(spans)
    return [(Claim(body, tuple(dict.fromkeys(numbers))), spans, end) for body, numbers, spans, end in pieces]


def _edited(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with each range ``(start, end)`` replaced by its string, and the spacing tidied."""
    for s, e, new in sorted(edits, reverse=True):
        text = text[:s] + new + text[e:]
    return _RUNS_OF_SPACES.sub(" ", _SPACE_BEFORE_PUNCT.sub("", text)).strip()


def _marker_at(text: str, end: int, number: int) -> tuple[int, int, str]:
    """An edit that puts ``[number]`` before the full stop of the sentence ending at ``end``."""
    at = end - 1 if end and text[end - 1] in ".!?" else end
    return at, at, f" [{number}]"


def _dated(p: Passage) -> str:
    """The passage's title with its date written out, so "on Monday" or "in 2025" can be backed by it."""
    return f"{p.title} {p.date.strftime('%A %d %B %Y')}" if p.date else p.title


class _Evidence:
    """Sentences of the numbered passages, with embeddings when available, and the check of each claim."""

    def __init__(self, passages: Sequence[Passage], claims: list[Claim], embedder: Embedder | None,
                 model: support.SupportModel, share: Callable[[str], float] | None) -> None:
        self.passages = list(passages)
        self.claims_text = [c.text for c in claims]
        self.model = model
        self.share = share
        self.sentences: dict[int, list[_Sentence]] = {}
        for n, p in enumerate(passages, 1):
            spans = sentence_spans(p.text) or [(0, len(p.text))]
            self.sentences[n] = [_Sentence(p.start + s, p.start + e, p.text[s:e], frozenset(terms(p.text[s:e])))
                                 for s, e in spans]
        self.similarity: dict[tuple[int, int], np.ndarray] = {}  # (claim index, passage) -> per sentence
        # The learned score read cosines of the model it was trained with; another model's are left out.
        self.dense = embedder is not None and getattr(embedder, "name", "") == model.embedder
        if embedder is not None and claims:
            # An uncited claim is tried against every passage; cited ones only against theirs.
            numbers = sorted(self.sentences) if any(not c.numbers for c in claims) else \
                sorted({n for c in claims for n in c.numbers if n in self.sentences})
            texts = [c.text for c in claims] + [s.text for n in numbers for s in self.sentences[n]]
            vectors = embedder.embed(texts)
            claim_vecs, rest = vectors[: len(claims)], vectors[len(claims):]
            offset = 0
            for n in numbers:
                block = rest[offset: offset + len(self.sentences[n])]
                offset += len(self.sentences[n])
                for i in range(len(claims)):
                    self.similarity[(i, n)] = block @ claim_vecs[i]

    def best(self, index: int, claim: Claim, number: int) -> Support:
        """The sentence of passage ``number`` that best backs ``claim`` (word overlap, then meaning)."""
        wanted = set(terms(claim.text))
        sims = self.similarity.get((index, number))
        best: Support | None = None
        for j, s in enumerate(self.sentences[number]):
            if support.is_instruction(s.text):
                continue
            lexical = len(wanted & s.terms) / len(wanted) if wanted else 0.0
            score = max(lexical, float(sims[j])) if sims is not None else lexical
            if best is None or score > best.score:
                best = Support(number, s.start, s.end, s.text, round(score, 4))
        if best is None:  # every sentence of it is an instruction: quote its first
            s = self.sentences[number][0]
            best = Support(number, s.start, s.end, s.text, 0.0)
        return best

    def evidence(self, index: int, numbers: Sequence[int]) -> support.Evidence:
        """What passages ``numbers`` offer claim ``index``."""
        cited = [self.passages[n - 1] for n in numbers]
        sims = [float(self.similarity[(index, n)].max()) for n in numbers
                if self.dense and (index, n) in self.similarity and self.similarity[(index, n)].size]
        return support.evidence_for(self.claims_text[index], [p.text for p in cited], [_dated(p) for p in cited],
                                    dense=max(sims) if sims else math.nan)

    def judge(self, index: int, claim: Claim, numbers: Sequence[int]) -> tuple[str | None, float]:
        """Why passages ``numbers`` do not back ``claim`` (None when they do), and the learned score."""
        evidence = self.evidence(index, numbers)
        reason = support.disagreement(claim.text, evidence, share=self.share)
        if reason:
            return reason, 0.0
        features = support.features(claim.text, evidence)
        if features["terms"] < MIN_CLAIM_TERMS:  # too few words to score: each must be there
            return (None, 1.0) if features["unsupported"] == 0 else ("the passage does not say it", 0.0)
        features["ce"] = self.model.cross_encoder.probability(claim.text, evidence.sentence)
        probability = float(self.model.probability([features])[0])
        return (None if probability >= self.model.threshold else "the passage does not say it"), probability

    def backer(self, index: int, claim: Claim) -> int | None:
        """The passage that backs an uncited ``claim`` best, when one backs it alone; else None."""
        best, score = None, 0.0
        for n in self.sentences:
            reason, probability = self.judge(index, claim, [n])
            if reason is None and probability > score:
                best, score = n, probability
        return best

    def problem(self, index: int, claim: Claim) -> str | None:
        """Why ``claim`` is not backed by the passages it cites, or None when it is."""
        if claim.text.rstrip().endswith(":"):
            return None  # a lead-in ("The sources say:")
        if not claim.numbers:
            if len(terms(claim.text)) < MIN_UNCITED_TERMS and not support.junk(claim.text, self.evidence(index, [])):
                return None  # filler ("Here is what I found.")
            return f"No citation for {_snippet(claim.text)}"
        reason, _ = self.judge(index, claim, claim.numbers)
        if reason is None:
            return None
        cited = "".join(f"[{n}]" for n in claim.numbers)
        return f"Not supported by {cited} ({reason}): {_snippet(claim.text)}"


@lru_cache(maxsize=1)
def _news_share() -> Callable[[str], float]:
    return IdfPrior().share


def check(text: str, passages: Sequence[Passage], *, embedder: Embedder | None = None,
          model: support.SupportModel | None = None) -> Checked:
    """Check ``text`` (with [n] markers, ``n`` counting ``passages`` from 1) against ``passages``.

    Args:
        text: the generated answer.
        passages: the passages the model was given, in prompt order.
        embedder: optional; its cosines feed the learned score (the check works without it).
        model: the learned part of the check (default: the bundled ``rag/models/claim-check``).

    Returns:
        The text of the backed sentences (flagged ones taken out), the cited numbers in order of
        first use, warnings, a quote per number, and the flagged sentences.
    """
    text, warnings = clean_markers(text, len(passages))
    pieces = _claims_markers_ends(text)
    claims = [claim for claim, _, _ in pieces]
    evidence = _Evidence(passages, claims, embedder, model or support.default_model(), _news_share())
    quotes: dict[int, Support] = {}
    flagged: list[str] = []
    edits: list[tuple[int, int, str]] = []
    starts = [0] + [end for _, _, end in pieces[:-1]]
    for i, (claim, _, end) in enumerate(pieces):
        problem = evidence.problem(i, claim)
        backer = evidence.backer(i, claim) if problem and not claim.numbers else None
        if backer is not None:
            claim, problem = Claim(claim.text, (backer,)), None
            edits.append(_marker_at(text, end, backer))
        if problem:
            warnings.append(problem)
            flagged.append(_RUNS_OF_SPACES.sub(" ", claim.text))
            edits.append((starts[i], end, ""))  # the sentence leaves the answer, markers and all
            continue
        for n in claim.numbers:
            if n not in quotes:
                quotes[n] = evidence.best(i, claim, n)
    if edits:
        text = _edited(text, edits)
    return Checked(text=text, numbers=list(quotes), warnings=warnings, quotes=quotes, flagged=flagged)
