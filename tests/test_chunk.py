import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunk import BATCH_MIN_SENTENCES, chunk_article, chunk_spans, context_prefix, count_tokens, sentence_spans
from index.records import Article
from index.settings import IndexSettings
from rag.assistant import SAMPLE_ARTICLES


def test_sentences_respect_abbreviations():
    text = "Col. Gen. Zakir Hasanov met Haluk Görgün on Jan. 12. The U.S. sent no one. Talks ended!"
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == ["Col. Gen. Zakir Hasanov met Haluk Görgün on Jan. 12.", "The U.S. sent no one.",
                         "Talks ended!"]


def test_a_sentence_goes_on_after_a_bracketed_or_quoted_question():
    text = ("The most popular breed (pup-ular?) is the French bulldog, ending the Labrador's run. "
            '"Are we all here?" she asks. "Yes!"\nNext line')
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == ["The most popular breed (pup-ular?) is the French bulldog, ending the Labrador's run.",
                         '"Are we all here?" she asks.', '"Yes!"', "Next line"]


def test_chunks_map_back_to_article_text_and_respect_size():
    text = " ".join(f"Sentence number {i} says something about topic {i % 7}." for i in range(200))
    article = Article(id="x", title="T", text=text)
    settings = IndexSettings(chunk_tokens=64, chunk_overlap=16)
    chunks = chunk_article(article, settings)
    assert len(chunks) > 5
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert count_tokens(c.text) <= 64
    # consecutive chunks overlap by whole sentences, and together cover every sentence
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:]))
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_overlong_sentence_is_split_at_token_boundaries():
    text = "word " * 500 + "end."
    spans = chunk_spans(text, chunk_tokens=50, chunk_overlap=10)
    assert len(spans) >= 10
    assert all(count_tokens(text[s:e]) <= 50 for s, e in spans)


def test_context_prefix_cuts_long_titles():
    settings = IndexSettings(title_tokens=5)
    prefix = context_prefix("one two three four five six seven eight", None, settings)
    assert count_tokens(prefix) <= 6


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.integers(16, 120))
def test_chunking_property_any_unicode(text, size):
    spans = chunk_spans(text, chunk_tokens=size, chunk_overlap=size // 4)
    covered = set()
    for s, e in spans:
        assert 0 <= s < e <= len(text)
        piece = text[s:e]
        assert piece.strip(), "no empty chunk"
        covered.update(range(s, e))
    # every non-space character belongs to some chunk
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.slow
def test_sample_chunks_fit_the_model_input():
    """MiniLM reads 256 word pieces and drops the rest: headline + date + chunk must fit."""
    from index.embed import Embedder

    settings = IndexSettings()
    embedder = Embedder()
    texts = []
    for line in SAMPLE_ARTICLES.read_text().splitlines():
        a = Article.from_dict(json.loads(line))
        prefix = context_prefix(a.title, a.date, settings)
        texts += [prefix + c.text for c in chunk_article(a, settings)]
    counts = embedder.count_wordpieces(texts)
    assert max(counts) <= settings.max_seq_length


def test_chunking_short_articles_costs_no_thread_pool_each(monkeypatch):
    """Ingestion cost follows the text, not the record count: tiktoken's batch call starts a
    thread pool per call, which for 10,000 one-line records cost more than all their text."""
    import threading

    started = []
    real_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self), real_start(self))[1])
    for i in range(50):
        assert chunk_spans(f"Record {i} says the council met on Tuesday.", chunk_tokens=64, chunk_overlap=8)
    assert started == []
    long_text = " ".join(f"Sentence {i} is here." for i in range(BATCH_MIN_SENTENCES + 1))
    spans = chunk_spans(long_text, chunk_tokens=64, chunk_overlap=8)
    assert spans[0][0] == 0 and spans[-1][1] == len(long_text)  # long articles still count in one batch
