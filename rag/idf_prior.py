"""How common each word is in news at large, so a small collection's IDF is not read as gospel.

The bundled sample collection (90 chunks) holds "made" in one chunk and "cut" in eight: by its
own counts "made" is the rarer, and "How many cuts has it made?" is asked mostly for "made".
The prior is the share of news articles holding each (stemmed) term, counted once over the
training split (20,596 articles as the index loads them; ``python -m eval.train_idf_prior``).
The retriever blends the words common in news (:data:`COMMON`) in as ``weight`` pseudo-chunks
(:func:`blended_idf`): in a collection of a few dozen articles that mostly decides how much
such a word weighs ("made" IDF 4.11 -> 1.40); in the dev collection's 40,176 chunks it barely
moves anything.

The folder (``rag/models/idf-prior``) holds ``df.json.gz`` and a manifest with its checksum and
the tokenizer it was counted with, so a table counted with other stop words or another
stemmer is refused rather than read wrongly.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from index.tokenize import tokenizer_signature

BUNDLED = Path(__file__).parent / "models" / "idf-prior"
TABLE_FILE = "df.json.gz"
FORMAT = "newsdesk-idf-prior/1"
# Terms in fewer training articles than this are left out: their share (< 0.02%) adds under
# 0.02 pseudo-chunks at the default weight, the same as leaving them out (share 0).
MIN_DF = 5
# Only words in at least this share of news articles are blended: such a word ("made",
# "since", "start", "old") says little about which story or sentence answers, whatever a small
# collection's counts say. A rarer one ("visitor" 0.06, "England" 0.06) is counted by the
# collection alone (the pseudo-chunks hold none of it): where the collection lacks it, a
# question asking for it asks about something else (blending every word answered "How many
# visitors attended IDEF 2025?" from the opening story). 0.15 was chosen over 0.1 and 0.2 on
# the sample and the tuned conversation sets (docs/records/evaluation.md, fifth pass).
COMMON = 0.15


class IdfPriorError(ValueError):
    """An IDF prior folder that cannot be used (missing, damaged, counted with another tokenizer)."""


class IdfPrior:
    """The share of news articles holding each term.

    Args:
        folder: a folder made by ``python -m eval.train_idf_prior`` (default: the bundled one).
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else BUNDLED
        manifest = self.folder / "manifest.json"
        if not manifest.is_file():
            raise IdfPriorError(f"{self.folder} is not an IDF prior folder (no manifest.json)")
        data = json.loads(manifest.read_text())
        if data.get("format") != FORMAT:
            raise IdfPriorError(f"{manifest}: format {data.get('format')!r}, expected {FORMAT!r}")
        if data.get("tokenizer") != tokenizer_signature():
            raise IdfPriorError(f"{self.folder} was counted with another tokenizer than this version's; "
                                "recount it with `python -m eval.train_idf_prior`")
        table = self.folder / TABLE_FILE
        raw = table.read_bytes() if table.is_file() else b""
        if hashlib.sha256(raw).hexdigest() != data.get("sha256"):
            raise IdfPriorError(f"{table} is missing or does not match its manifest's checksum")
        counted = json.loads(gzip.decompress(raw))
        self.manifest = data
        self.articles = int(counted["articles"])
        self._df: dict[str, int] = counted["df"]
        # The terms that are blended, with their shares: a few thousand of the table's.
        self.common_terms: dict[str, float] = {
            t: c / self.articles for t, c in self._df.items() if c / self.articles >= COMMON}

    def share(self, term: str) -> float:
        """The share of news articles holding ``term`` (0 for one rarer than :data:`MIN_DF`)."""
        return self._df.get(term, 0) / self.articles

    def common(self, term: str) -> float:
        """:meth:`share` where it reaches :data:`COMMON`, else 0 (the term is not blended)."""
        return self.common_terms.get(term, 0.0)


def blended_idf(df: np.ndarray | float, n: int, share: np.ndarray | float, weight: float) -> np.ndarray | float:
    """BM25's IDF, ``log(1 + (n - df + 0.5) / (df + 0.5))``, over the ``n`` chunks and ``weight``
    pseudo-chunks of news at large, of which ``share`` hold the term (arrays or single values)."""
    held = df + weight * share
    return np.log1p((n + weight - held + 0.5) / (held + 0.5))


def count(texts: Iterable[list[str]]) -> tuple[int, Counter]:
    """(documents, term -> documents holding it) over ``texts`` given as term lists."""
    df: Counter = Counter()
    n = 0
    for found in texts:
        df.update(set(found))
        n += 1
    return n, df


def write(folder: str | Path, articles: int, df: Counter, trained_on: dict) -> Path:
    """Write ``df`` (terms in at least :data:`MIN_DF` of ``articles``) and its manifest; the
    table's bytes depend only on the counts, so a recount gives the same checksum."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kept = {t: c for t, c in sorted(df.items()) if c >= MIN_DF}
    body = json.dumps({"articles": articles, "df": kept}, separators=(",", ":"), ensure_ascii=False)
    raw = gzip.compress(body.encode(), compresslevel=9, mtime=0)
    (folder / TABLE_FILE).write_bytes(raw)
    manifest = {"format": FORMAT, "sha256": hashlib.sha256(raw).hexdigest(), "articles": articles,
                "terms": len(kept), "min_df": MIN_DF, "tokenizer": tokenizer_signature(), "trained_on": trained_on}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder
