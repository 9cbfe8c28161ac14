"""Checks a generated answer against the passages it cites.

A model can cite passages that were never shown ([7] of 3), or write sentences its
sources do not back. After generation:

* markers that point at no passage are removed, and reported;
* each answer sentence is checked against the passages it cites: enough of its content
  words must appear there (or, with an embedder, one passage sentence must mean nearly
  the same), and every number it states must appear there too;
* a factual sentence without any citation is given the passage that backs it best, when one
  passes the same test (small models often state the answer and forget the marker);
  otherwise it is reported as unsupported.

Problems are reported as warnings. A sentence that fails the check is *flagged*: it keeps the
model's wording, but loses its markers and never becomes a citation (a card is shown only
for claims the check accepted), and the caller shows it as flagged, not as plain answer text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index.chunk import sentence_spans
from index.embed import Embedder
from index.tokenize import terms
from rag.records import Passage

# Share of a sentence's content words that its cited passages must contain. Paraphrase keeps
# names, places and most nouns, so half is lenient for honest sentences and still catches
# sentences the passages never talk about.
LEXICAL_SUPPORT = 0.5
# Cosine similarity at which an answer sentence restates a passage sentence, for paraphrases that
# share few words. With all-MiniLM-L6-v2, paraphrases score about 0.55-0.7 and on-topic sentences
# that claim something else 0.4-0.5, so this errs towards flagging.
DENSE_SUPPORT = 0.6
# Sentences with fewer content words ("They met in July.") are too short to judge fairly.
MIN_CLAIM_TERMS = 3
# Longest "[a-b]" range read as a list of passages.
MAX_RANGE = 10
# Characters of a sentence quoted in a warning.
QUOTE_CHARS = 120

# [1], [1, 2], [1-3], [Passage 2]
MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*)\s*\]", re.IGNORECASE)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+\])+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
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


def _numbers_in(text: str) -> set[str]:
    """The numbers written in ``text``, normalised: "1,200" -> "1200", "07" -> "7"."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return {n.lstrip("0") or "0" if n.isdigit() else n for n in found}


class _Evidence:
    """Sentences, terms and numbers of the numbered passages, with embeddings when available."""

    def __init__(self, passages: Sequence[Passage], claims: list[Claim], embedder: Embedder | None) -> None:
        self.sentences: dict[int, list[_Sentence]] = {}
        self.terms: dict[int, set[str]] = {}
        self.numbers: dict[int, set[str]] = {}
        for n, p in enumerate(passages, 1):
            spans = sentence_spans(p.text) or [(0, len(p.text))]
            self.sentences[n] = [_Sentence(p.start + s, p.start + e, p.text[s:e], frozenset(terms(p.text[s:e])))
                                 for s, e in spans]
            self.terms[n] = set(terms(p.text)) | set(terms(p.title))
            day = [str(p.date.year), str(p.date.month), str(p.date.day)] if p.date else []
            self.numbers[n] = _numbers_in(f"{p.title} {p.text}") | set(day)
        self.similarity: dict[tuple[int, int], np.ndarray] = {}  # (claim index, passage) -> per sentence
        if embedder is not None and claims:
            cited = sorted({n for c in claims for n in c.numbers if n in self.sentences})
            texts = [c.text for c in claims] + [s.text for n in cited for s in self.sentences[n]]
            vectors = embedder.embed(texts)
            claim_vecs, rest = vectors[: len(claims)], vectors[len(claims):]
            offset = 0
            for n in cited:
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
            lexical = len(wanted & s.terms) / len(wanted) if wanted else 0.0
            score = max(lexical, float(sims[j])) if sims is not None else lexical
            if best is None or score > best.score:
                best = Support(number, s.start, s.end, s.text, round(score, 4))
        assert best is not None  # every passage has at least one sentence
        return best

    def backer(self, claim: Claim) -> int | None:
        """The passage that backs an uncited ``claim`` best, when one backs it alone; else None."""
        wanted = set(terms(claim.text))
        best, share = None, 0.0
        for n in self.terms:
            if _numbers_in(claim.text) - self.numbers[n]:
                continue
            lexical = len(wanted & self.terms[n]) / len(wanted)
            if lexical >= LEXICAL_SUPPORT and lexical > share:
                best, share = n, lexical
        return best

    def problem(self, index: int, claim: Claim) -> str | None:
        """Why ``claim`` is not backed by the passages it cites, or None when it is."""
        wanted = set(terms(claim.text))
        if len(wanted) < MIN_CLAIM_TERMS or claim.text.rstrip().endswith(":"):
            return None  # too short to judge, or a lead-in ("The sources say:")
        if not claim.numbers:
            return f"No citation for {_snippet(claim.text)}"
        pool = set().union(*(self.terms[n] for n in claim.numbers))
        numbers = set().union(*(self.numbers[n] for n in claim.numbers))
        missing = sorted(_numbers_in(claim.text) - numbers)
        cited = "".join(f"[{n}]" for n in claim.numbers)
        if missing:
            return f"Not supported by {cited} ({', '.join(missing)} is not there): {_snippet(claim.text)}"
        lexical = len(wanted & pool) / len(wanted)
        dense = max((float(self.similarity[(index, n)].max()) for n in claim.numbers
                     if (index, n) in self.similarity and self.similarity[(index, n)].size), default=0.0)
        if lexical >= LEXICAL_SUPPORT or dense >= DENSE_SUPPORT:
            return None
        return f"Not supported by {cited}: {_snippet(claim.text)}"


def check(text: str, passages: Sequence[Passage], *, embedder: Embedder | None = None) -> Checked:
    """Check ``text`` (with [n] markers, ``n`` counting ``passages`` from 1) against ``passages``.

    Args:
        text: the generated answer.
        passages: the passages the model was given, in prompt order.
        embedder: optional; adds meaning-level support for paraphrases (lexical only without it).

    Returns:
        The cleaned text, the cited numbers in order of first use, warnings, and a quote per number.
    """
    text, warnings = clean_markers(text, len(passages))
    pieces = _claims_markers_ends(text)
    claims = [claim for claim, _, _ in pieces]
    evidence = _Evidence(passages, claims, embedder)
    quotes: dict[int, Support] = {}
    flagged: list[str] = []
    edits: list[tuple[int, int, str]] = []
    for i, (claim, markers, end) in enumerate(pieces):
        problem = evidence.problem(i, claim)
        backer = evidence.backer(claim) if problem and not claim.numbers else None
        if backer is not None:
            claim, problem = Claim(claim.text, (backer,)), None
            edits.append(_marker_at(text, end, backer))
        if problem:
            warnings.append(problem)
            flagged.append(_RUNS_OF_SPACES.sub(" ", claim.text))
            edits += [(s, e, "") for s, e in markers]
            continue
        for n in claim.numbers:
            if n not in quotes:
                quotes[n] = evidence.best(i, claim, n)
    if edits:
        text = _edited(text, edits)
    return Checked(text=text, numbers=list(quotes), warnings=warnings, quotes=quotes, flagged=flagged)


def check_answer(text: str, passages: Sequence[Passage], *,
                 embedder: Embedder | None = None) -> tuple[str, list[int], list[str]]:
    """:func:`check`, as ``(clean_text, used_numbers, warnings)``."""
    checked = check(text, passages, embedder=embedder)
    return checked.text, checked.numbers, checked.warnings
