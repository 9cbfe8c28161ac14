from dataclasses import replace

import pytest

from index.build import add_articles, build_index, remove_articles, write_collection
from index.errors import NoValidArticlesError
from index.settings import IndexSettings
from index.store import IndexStore
from tests.conftest import make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)


def test_unchanged_rebuild_embeds_nothing(tmp_path, hash_embedder):
    root = tmp_path / "idx"
    first = write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert first.added == 5 and first.embedded_chunks == first.chunks
    again = write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert again.up_to_date and again.embedded_chunks == 0 and again.unchanged == 5


def test_changed_added_removed_touch_only_their_chunks(tmp_path, hash_embedder):
    root = tmp_path / "idx"
    arts = make_articles(5)
    write_collection(root, arts, settings=SETTINGS, embedder=hash_embedder, progress=False)
    before = IndexStore.load(root)
    changed = replace(arts[1], text="A completely new text about a harbour. " * 2, content_hash="")
    new = make_articles(7)[5:]
    report = write_collection(root, [arts[0], changed, *arts[2:4], *new], settings=SETTINGS,
                              embedder=hash_embedder, progress=False)
    assert (report.added, report.changed, report.removed, report.unchanged) == (2, 1, 1, 3)
    after = IndexStore.load(root)
    expected = sum(len(after.chunk_rows(a)) for a in ("a1", "a5", "a6"))
    assert report.embedded_chunks == expected
    # vectors of unchanged articles are carried over bit for bit
    for aid in ("a0", "a2", "a3"):
        assert (before.embeddings(before.chunk_rows(aid)) == after.embeddings(after.chunk_rows(aid))).all()
    assert "a4" not in after.article_row
    # BM25 and chunk store agree with the dense index
    assert after.dense.ntotal == len(after) == after.bm25.scores["num_docs"]  # all chunks under the cap


def test_add_and_remove(tmp_path, hash_embedder):
    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    report = add_articles(root, make_articles(5)[3:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert report.added == 2 and report.unchanged == 3
    report = remove_articles(root, ["a0", "nope"], settings=SETTINGS, embedder=hash_embedder)
    assert report.removed == 1 and report.embedded_chunks == 0
    assert sorted(IndexStore.load(root).article_row) == ["a1", "a2", "a3", "a4"]


def test_build_from_files_reports_bad_records(tmp_path, hash_embedder):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "ok", "title": "Fine", "text": "A valid article about ferries."}\n{broken\n')
    report = build_index([src], tmp_path / "idx", settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert report.articles == 1
    assert "in.jsonl:2" in report.summary()


def test_nothing_valid_leaves_index_untouched(tmp_path, hash_embedder):
    root = tmp_path / "idx"
    write_collection(root, make_articles(2), settings=SETTINGS, embedder=hash_embedder, progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    with pytest.raises(NoValidArticlesError):
        build_index([bad], root, settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert len(IndexStore.load(root).articles) == 2


def test_dense_cap_embeds_lead_chunks_only(tmp_path, hash_embedder):
    from index.records import Article

    capped = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=0, dense_chunks_per_article=2)
    text = " ".join(f"Paragraph {i} talks about subject{i} at length here." for i in range(40))
    root = tmp_path / "idx"
    report = write_collection(root, [Article(id="long", title="Long page", text=text)], settings=capped,
                              embedder=hash_embedder, progress=False)
    store = IndexStore.load(root)
    assert report.chunks == len(store) > 2
    assert report.embedded_chunks == store.dense.ntotal == 2
    assert store.has_vector().tolist() == [True, True] + [False] * (len(store) - 2)
    assert store.bm25.scores["num_docs"] == len(store)  # every chunk stays searchable by BM25


def test_large_collections_get_an_ivf_index_that_round_trips(tmp_path, hash_embedder, monkeypatch):
    import index.build as build_mod
    from index.build import choose_factory

    assert choose_factory(10_000) == "Flat"
    assert choose_factory(1_000_000) == "IVF2048,SQ8"
    monkeypatch.setattr(build_mod, "EXACT_MAX_VECTORS", 10)
    root = tmp_path / "idx"
    write_collection(root, make_articles(7), settings=SETTINGS, embedder=hash_embedder, progress=False)
    store = IndexStore.load(root)
    assert store.manifest["faiss_factory"].startswith("IVF") and store.dense.ntotal == len(store)
    # incremental: vectors are read back from the IVF index, only the new article is embedded
    report = add_articles(root, make_articles(8)[7:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert report.added == 1 and report.embedded_chunks == len(IndexStore.load(root).chunk_rows("a7"))
    q = hash_embedder.embed(["story number 3 museum reopens doors"])
    _, ids = IndexStore.load(root).dense.search(q, 3)
    assert (ids[0] >= 0).all()


def test_an_add_never_replaces_an_article_without_saying_so(tmp_path, hash_embedder):
    from index.load import load_articles

    root = tmp_path / "idx"
    write_collection(root, make_articles(2), settings=SETTINGS, embedder=hash_embedder, progress=False)
    # Two uploads named report.txt from different folders are two articles, not one replacing the other.
    for folder, text in (("a", "Harbour report\nThe harbour reopened."), ("b", "Council report\nThe council met.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(text)
        report = add_articles(root, load_articles([tmp_path / folder / "report.txt"]).articles, settings=SETTINGS,
                              embedder=hash_embedder, progress=False)
        assert (report.added, report.changed) == (1, 0)
    assert {a.title for a in IndexStore.load(root).articles} >= {"Harbour report", "Council report"}
    # A record that reuses an id replaces that article, and the report says which.
    report = add_articles(root, [replace(make_articles(2)[1], text="Another story entirely.", content_hash="")],
                          settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert report.changed == 1 and report.replaced_ids == ["a1"]
    assert "1 replaced" in report.summary()
    assert "Replaced 1 article that had the same id but other content: a1" in report.summary()


# ---- adds that cost the change ------------------------------------------------------------------------------

QUERIES = ["harbour bridge opens", "Hasanov defence minister visit", "greenway councillors voted",
           "central bank raises rates", "museum whale skeleton", "zzz-unknown-term"]


def _sample(n: int | None = None):
    from index.load import load_articles

    return load_articles(["index/sample/articles.jsonl"]).articles[:n]


def _same_search(a: IndexStore, b: IndexStore, embedder) -> None:
    """Two indexes of the same articles answer every query alike: chunks, BM25 (chunk and article)
    and dense scores, story groups."""
    import numpy as np

    from index.sparse import scores

    assert [x.id for x in a.articles] == [x.id for x in b.articles]
    assert (a.chunk_article == b.chunk_article).all() and (a.chunk_start == b.chunk_start).all()
    assert a.stories.group_of == b.stories.group_of and a.stories.pairs == b.stories.pairs
    for q in QUERIES:
        np.testing.assert_allclose(scores(a.bm25, q), scores(b.bm25, q), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(scores(a.article_bm25, q), scores(b.article_bm25, q), rtol=1e-6, atol=1e-7)
        vector = embedder.embed([q])
        (sa, ia), (sb, ib) = a.dense.search(vector, 10), b.dense.search(vector, 10)
        np.testing.assert_allclose(sa, sb, rtol=1e-6, atol=1e-7)
        assert set(ia[0][sa[0] > sa[0][-1] + 1e-6]) == set(ib[0][sb[0] > sb[0][-1] + 1e-6])  # ties may swap


def test_an_add_tokenises_only_its_articles_and_searches_as_a_full_build(tmp_path, hash_embedder, monkeypatch):
    import index.sparse

    articles = _sample()
    changed = replace(articles[3], text=articles[3].text + " A late correction was added.", content_hash="")
    write_collection(tmp_path / "inc", articles[:-2], settings=SETTINGS, embedder=hash_embedder, progress=False)
    counted: list[str] = []
    real_terms = index.sparse.terms
    monkeypatch.setattr(index.sparse, "terms", lambda text: counted.append(text) or real_terms(text))
    report = add_articles(tmp_path / "inc", [*articles[-2:], changed], settings=SETTINGS, embedder=hash_embedder,
                          progress=False)
    monkeypatch.undo()
    assert (report.added, report.changed, report.signed_articles) == (2, 1, 3)
    inc = IndexStore.load(tmp_path / "inc")
    new = {a.id for a in (*articles[-2:], changed)}
    # Only the three articles' texts and chunks were tokenised: one document each, plus their chunks.
    assert len(counted) == 3 + sum(len(inc.chunk_rows(i)) for i in new)
    final = [changed if a.id == changed.id else a for a in articles]
    write_collection(tmp_path / "full", final, settings=SETTINGS, embedder=hash_embedder, progress=False)
    _same_search(inc, IndexStore.load(tmp_path / "full"), hash_embedder)
    # A removal recomputes from the stored counts too, and matches a build without the article.
    remove_articles(tmp_path / "inc", [articles[0].id], settings=SETTINGS, embedder=hash_embedder)
    write_collection(tmp_path / "less", final[1:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    _same_search(IndexStore.load(tmp_path / "inc"), IndexStore.load(tmp_path / "less"), hash_embedder)


def test_an_index_without_stored_term_counts_is_counted_once_then_added_to(tmp_path, hash_embedder):
    from tests.conftest import rewrite_manifest

    articles = _sample(12)
    write_collection(tmp_path / "old", articles[:10], settings=SETTINGS, embedder=hash_embedder, progress=False)
    # As an index written before the counts were kept (or with another tokeniser): they are not used.
    rewrite_manifest(tmp_path / "old", lambda m: {k: v for k, v in m.items() if k != "terms"})
    assert IndexStore.load(tmp_path / "old").term_counts() is None
    add_articles(tmp_path / "old", articles[10:11], settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert IndexStore.load(tmp_path / "old").term_counts() is not None
    add_articles(tmp_path / "old", articles[11:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    write_collection(tmp_path / "full", articles, settings=SETTINGS, embedder=hash_embedder, progress=False)
    _same_search(IndexStore.load(tmp_path / "old"), IndexStore.load(tmp_path / "full"), hash_embedder)


# ---- resumable builds -------------------------------------------------------------------------------------


class _StopsAfter:
    """The test embedder, with Ctrl-C pressed during its call number ``calls + 1``."""

    def __init__(self, inner, calls: int) -> None:
        self.inner, self.left = inner, calls

    def __getattr__(self, name):  # noqa: ANN001, ANN204 - everything else is the wrapped embedder's
        return getattr(self.inner, name)

    def embed(self, texts, *, progress=False):  # noqa: ANN001, ANN201
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return self.inner.embed(texts, progress=progress)


def test_an_interrupted_build_keeps_what_it_embedded_and_the_rerun_embeds_the_rest(tmp_path, hash_embedder,
                                                                                   monkeypatch):
    import index.build as build_mod
    from index import store as store_mod
    from index.embed_cache import FOLDER
    from index.errors import BuildInterrupted
    from tests.conftest import HashEmbedder

    monkeypatch.setattr(build_mod, "CHECKPOINT_CHUNKS", 4)
    articles, root = _sample(20), tmp_path / "idx"
    with pytest.raises(BuildInterrupted) as stopped:
        write_collection(root, articles, settings=SETTINGS, embedder=_StopsAfter(hash_embedder, 2), progress=False)
    assert stopped.value.kept == 8 and isinstance(stopped.value, KeyboardInterrupt)
    assert not store_mod.exists(root) and (root / FOLDER).is_dir()  # no version, the vectors kept
    rerun = HashEmbedder()
    report = write_collection(root, articles, settings=SETTINGS, embedder=rerun, progress=False)
    total = report.embedded_chunks + report.resumed_chunks
    assert stopped.value.kept + stopped.value.left == total
    assert report.resumed_chunks == 8 and sum(rerun.calls) == report.embedded_chunks == total - 8
    assert "8 of them from an interrupted build" in report.summary()
    assert not (root / FOLDER).exists()  # the build completed: its vectors are in the index
    write_collection(tmp_path / "clean", articles, settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    _same_search(IndexStore.load(root), IndexStore.load(tmp_path / "clean"), rerun)


def test_a_build_says_what_it_does_before_its_progress_bar(tmp_path, hash_embedder):
    said: list[str] = []
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "ok", "title": "Fine", "text": "A valid article about ferries."}\n')
    build_index([src], tmp_path / "idx", settings=SETTINGS, embedder=hash_embedder, progress=False, say=said.append)
    assert said == [f"Reading {src}...", "Chunking 1 new or changed article...",
                    "Loading the embedding model hash-64..."]


# ---- removals name the ids the index does not hold ---------------------------------------------------------


def test_a_removal_names_unknown_ids_and_refuses_when_none_is_known(tmp_path, hash_embedder):
    from index.errors import UnknownArticlesError

    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    before = IndexStore.load(root).version
    with pytest.raises(UnknownArticlesError, match="holds no article with the ids nosuch, other; nothing was "
                                                   "removed") as refused:
        remove_articles(root, ["nosuch", "other"], settings=SETTINGS, embedder=hash_embedder)
    assert refused.value.ids == ["nosuch", "other"] and IndexStore.load(root).version == before
    report = remove_articles(root, ["a0", "nope"], settings=SETTINGS, embedder=hash_embedder)
    assert report.removed == 1 and report.unknown_ids == ["nope"]
    assert "Not in the index, so not removed: nope" in report.summary()
