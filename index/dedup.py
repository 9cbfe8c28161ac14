"""Story groups: syndicated copies and updated versions of one story, found at build time.

One agency story is re-posted by many sites with other page furniture, headlines and small
edits, and a site replaces a story with an updated version. Two articles are copies of one
story when the word 5-shingles of their texts overlap enough (MinHash estimate of the
Jaccard similarity, candidates found with LSH, ``datasketch``; more overlap is asked of two
articles dated weeks apart) and their headlines share a word (a text shared under unrelated
headlines is page furniture, not a story). Groups are the connected
components of those pairs.

Grouping is incremental: an article keeps its signature and its pairs while its content hash
is unchanged, so adding ten articles signs and pairs only those ten, and a removal drops its
pairs, which may split its group. A few new articles are matched against the stored
signatures band by band with numpy (exactly the LSH's candidates, without filling its table
from every signature); many, through the LSH table.
A text found verbatim under several different headlines is a placeholder (a paywall or
sign-up page the crawler got instead of the story) and is never grouped.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from index.records import Article
from index.tokenize import terms

SHINGLE_WORDS = 5  # word 5-grams: long enough that shared phrases mean shared text, not shared topic
NUM_PERM = 128  # MinHash permutations: the Jaccard estimate's standard error is about 0.04
SEED = 1
SCHEME = "affine32"  # datasketch's 32-bit permutations: signatures are stored as uint32
# Estimated Jaccard similarity of two texts' shingles above which they are one story. On the
# dev collection a story's updated version scored 0.60, and the closest pair of different
# stories (one event's reports in two years) 0.43 (docs/records/news.md).
SIMILARITY = 0.5
LSH_THRESHOLD = 0.4  # candidates are fetched a little below SIMILARITY so LSH misses few pairs
MIN_SHINGLES = 25  # texts shorter than this (about 30 words) say too little to be matched
MAX_WORDS = 3000  # the first words of a text are signed: scraped live pages run much longer
# Copies and updates of a story appear within days of each other; a piece re-posted months
# later (an explainer, a list, a timeline brought up to date) must keep more of its text, as a
# yearly report written to the same template keeps 0.45 (Groundhog Day 2019 and 2020).
MAX_DAYS_APART = 14
FAR_SIMILARITY = 0.6
PLACEHOLDER_TITLES = 3  # one text under this many different headlines is a placeholder page
# Up to this many (new article, stored article) pairs, candidates are found by comparing bands
# in numpy (one pass over the signatures per new article); above it, by the LSH table.
BANDED_PAIRS = 2_000_000
# A headline's tail after one of these is the site's name ("... | CNN", "... - The Week UK").
_SITE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]{1,40}$")
_WORD = re.compile(r"\w+")


def params() -> dict:
    """The grouping parameters, stored with the groups; other stored parameters mean regroup."""
    return {"shingle_words": SHINGLE_WORDS, "num_perm": NUM_PERM, "seed": SEED, "scheme": SCHEME,
            "similarity": SIMILARITY, "far_similarity": FAR_SIMILARITY, "max_days_apart": MAX_DAYS_APART,
            "min_shingles": MIN_SHINGLES, "max_words": MAX_WORDS, "placeholder_titles": PLACEHOLDER_TITLES}


def shingles(text: str) -> set[bytes]:
    """The word 5-shingles of ``text`` (lower-cased, first :data:`MAX_WORDS` words)."""
    words = _WORD.findall(text.lower())[:MAX_WORDS]
    return {" ".join(words[i:i + SHINGLE_WORDS]).encode("utf-8", "surrogatepass")
            for i in range(len(words) - SHINGLE_WORDS + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash signature of ``text``'s shingles: uint32, shape ``(NUM_PERM,)``; all ones
    (no shingle) for a text with fewer than :data:`MIN_SHINGLES` shingles."""
    found = shingles(text)
    if len(found) < MIN_SHINGLES:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    from datasketch import MinHash  # here: it imports SciPy's integrators (0.4 s), which a query never needs

    m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32, scheme=SCHEME)
    m.update_batch(found)
    return m.hashvalues.astype(np.uint32)


def headline_terms(title: str) -> set[str]:
    """The headline's content terms without the site name at its end."""
    return set(terms(_SITE_SUFFIX.sub("", title.strip())))


def _lean(sig: np.ndarray):  # noqa: ANN202 - datasketch.LeanMinHash
    from datasketch import LeanMinHash

    return LeanMinHash(seed=SEED, hashvalues=sig, scheme=SCHEME)


def _signed(sig: np.ndarray) -> bool:
    return bool((sig != np.iinfo(np.uint32).max).any())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal MinHash values)."""
    return float(np.mean(a == b))


def same_story(a: Article, b: Article, sig_a: np.ndarray, sig_b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are copies of one story (see the module docstring)."""
    if not (_signed(sig_a) and _signed(sig_b)):
        return False
    far = a.date is not None and b.date is not None and abs((a.date - b.date).days) > MAX_DAYS_APART
    if similarity(sig_a, sig_b) < (FAR_SIMILARITY if far else SIMILARITY):
        return False
    ta, tb = headline_terms(a.title), headline_terms(b.title)
    return not (ta and tb) or bool(ta & tb)


def placeholders(articles: Sequence[Article]) -> set[str]:
    """Ids of articles whose text occurs verbatim under :data:`PLACEHOLDER_TITLES` or more
    different headlines: the crawler got a sign-up or paywall page, not a story."""
    digests = [hashlib.sha1(a.text.encode("utf-8", "surrogatepass")).digest() for a in articles]
    titles: dict[bytes, set[str]] = {}
    for digest, a in zip(digests, articles):
        titles.setdefault(digest, set()).add(a.title)
    shared = {h for h, t in titles.items() if len(t) >= PLACEHOLDER_TITLES}
    return {a.id for digest, a in zip(digests, articles) if digest in shared}


@dataclass(frozen=True)
class Stories:
    """The story groups of a collection.

    Attributes:
        ids: article ids, in the order of ``signatures``' rows.
        hashes: each article's content hash when it was signed (unchanged: signature reused).
        signatures: uint32 MinHash signatures, shape ``(len(ids), NUM_PERM)``.
        pairs: article-id pairs judged copies of one story (placeholders included).
        group_of: article id -> group id (the group's smallest article id); every id has one.
    """

    ids: tuple[str, ...]
    hashes: tuple[str, ...]
    signatures: np.ndarray
    pairs: tuple[tuple[str, str], ...]
    group_of: dict[str, str] = field(default_factory=dict, repr=False)
    signed: int = 0  # signatures computed by the build that made this (the rest were reused)

    def members(self) -> dict[str, list[str]]:
        """Group id -> its article ids (sorted), for groups of two or more."""
        out: dict[str, list[str]] = {}
        for article_id, group in self.group_of.items():
            out.setdefault(group, []).append(article_id)
        return {g: sorted(m) for g, m in out.items() if len(m) > 1}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """What :func:`index.store.write_store` saves (no pickled objects)."""
        pairs = np.array(self.pairs, dtype=str).reshape(-1, 2)
        return {"ids": np.array(self.ids, dtype=str), "hashes": np.array(self.hashes, dtype=str),
                "signatures": self.signatures.astype(np.uint32), "pairs": pairs}

    @classmethod
    def from_arrays(cls, arrays, articles: Sequence[Article]) -> Stories:  # noqa: ANN001 - an NpzFile
        """The stored groups, re-joined over ``articles`` (the same collection, read back)."""
        ids = tuple(str(i) for i in arrays["ids"])
        pairs = tuple((str(a), str(b)) for a, b in arrays["pairs"])
        return cls(ids=ids, hashes=tuple(str(h) for h in arrays["hashes"]),
                   signatures=np.asarray(arrays["signatures"], dtype=np.uint32), pairs=pairs,
                   group_of=_components(ids, pairs, placeholders(articles)))


def group_stories(articles: Sequence[Article], *, previous: Stories | None = None) -> Stories:
    """The story groups of ``articles``, reusing ``previous`` for the articles it signed with
    the same content hash (their signatures and the pairs between them are kept)."""
    old_row = {i: r for r, i in enumerate(previous.ids)} if previous is not None else {}
    kept: set[str] = set()
    sigs = np.empty((len(articles), NUM_PERM), dtype=np.uint32)
    fresh: list[int] = []
    for r, a in enumerate(articles):
        j = old_row.get(a.id)
        if j is not None and previous.hashes[j] == a.content_hash:
            sigs[r] = previous.signatures[j]
            kept.add(a.id)
        else:
            sigs[r] = signature(a.text)
            fresh.append(r)
    pairs = {p for p in (previous.pairs if previous is not None else ()) if p[0] in kept and p[1] in kept}
    if fresh:
        pairs |= _new_pairs(articles, sigs, fresh)
    ids = tuple(a.id for a in articles)
    ordered = tuple(sorted(pairs))
    return Stories(ids=ids, hashes=tuple(a.content_hash for a in articles), signatures=sigs, pairs=ordered,
                   group_of=_components(ids, ordered, placeholders(articles)), signed=len(fresh))


@lru_cache(maxsize=1)
def _bands() -> tuple[int, int]:
    """(bands, rows per band) of the LSH table at :data:`LSH_THRESHOLD`: two signatures are
    candidates when all values of one band are equal."""
    from datasketch import MinHashLSH  # here: it imports SciPy's integrators, which a query never needs

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    return lsh.b, lsh.r


def _candidates(sigs: np.ndarray, fresh: list[int]) -> dict[int, list[int]]:
    """Row -> rows sharing a band with it, for each signed row of ``fresh`` (itself included),
    as the LSH table finds them (a band's values equal)."""
    signed = (sigs != np.iinfo(np.uint32).max).any(axis=1)
    todo = [r for r in fresh if signed[r]]
    if len(todo) * len(sigs) <= BANDED_PAIRS:
        b, r = _bands()
        banded = sigs[:, :b * r].reshape(len(sigs), b, r)
        return {f: np.flatnonzero((banded == banded[f]).all(axis=2).any(axis=1) & signed).tolist() for f in todo}
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    for row in np.flatnonzero(signed).tolist():
        lsh.insert(row, _lean(sigs[row]), check_duplication=False)
    return {f: list(lsh.query(_lean(sigs[f]))) for f in todo}


def _new_pairs(articles: Sequence[Article], sigs: np.ndarray, fresh: list[int]) -> set[tuple[str, str]]:
    """Pairs with at least one article of ``fresh`` (rows): LSH candidates that pass :func:`same_story`."""
    out: set[tuple[str, str]] = set()
    fresh_set = set(fresh)
    for r, found in _candidates(sigs, fresh).items():
        for c in found:
            if c == r or (c in fresh_set and c < r):
                continue  # itself, or a fresh pair already tried from the other side
            if same_story(articles[r], articles[c], sigs[r], sigs[c]):
                out.add(tuple(sorted((articles[r].id, articles[c].id))))
    return out


def _components(ids: Sequence[str], pairs: Sequence[tuple[str, str]], skip: set[str]) -> dict[str, str]:
    """Article id -> smallest id of its connected component over ``pairs`` (``skip`` stay alone)."""
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        if a in parent and b in parent and a not in skip and b not in skip:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in ids}
