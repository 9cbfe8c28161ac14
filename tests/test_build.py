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
