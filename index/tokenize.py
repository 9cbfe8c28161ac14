"""Word tokens for sparse search and answer scoring: lower-cased, stop words out, stemmed.

BM25 at index time and the answerer at query time must tokenise the same way, so both
call :func:`terms`.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"\w+", re.UNICODE)
STEMMER = "english"
_stemmer = Stemmer.Stemmer(STEMMER)

# A short list: questions lean on words like "who", "did", "this", which carry no evidence.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves also said says say according its
    s t one""".split()
)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def stem(word: str) -> str:
    """``word`` lower-cased and stemmed as :func:`terms` stems it (stop words are not dropped)."""
    return _stem(word.lower())


def terms(text: str) -> list[str]:
    """Stemmed content terms of ``text`` in order (duplicates kept)."""
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS or (len(w) < 2 and not w.isdigit()):
            continue
        out.append(_stem(w))
    return out


def tokenizer_signature() -> dict[str, str]:
    """What :func:`terms` depends on, for the manifests of tables counted with it."""
    stop = hashlib.sha256(" ".join(sorted(STOPWORDS)).encode()).hexdigest()
    return {"stemmer": f"snowball-{STEMMER}", "stopwords_sha256": stop}
