import json

import numpy as np
import pytest

from index import store as store_mod
from index.build import write_collection
from index.errors import IndexCorruptError, IndexMismatchError
from index.settings import IndexSettings
from index.store import IndexStore
from tests.conftest import make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)


def build(tmp_path, embedder, n=5):
    write_collection(tmp_path / "idx", make_articles(n), settings=SETTINGS, embedder=embedder, progress=False)
    return tmp_path / "idx"


def test_round_trip(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder)
    store = IndexStore.load(root, settings=SETTINGS)
    articles = make_articles(5)
    assert [a.id for a in store.articles] == sorted(a.id for a in articles)
    assert store.articles[0] == articles[0] and store.articles[0].content_hash == articles[0].content_hash
    assert store.manifest["counts"] == {"articles": 5, "chunks": len(store)}
    assert store.manifest["dimension"] == 64 and store.manifest["format_version"] == 1
    for i in range(len(store)):
        c = store.chunk(i)
        art = store.articles[store.article_row[c.article_id]]
        assert art.text[c.start:c.end] == c.text
    vectors = store.embeddings(np.arange(len(store)))
    texts_first = hash_embedder.embed(["x"])  # the store keeps exactly what was embedded
    assert vectors.shape == (len(store), 64) and texts_first.dtype == np.float32


def test_manifest_mismatch_is_refused_with_clear_message(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder)
    with pytest.raises(IndexMismatchError, match="embedding model 'hash-64'"):
        IndexStore.load(root, settings=IndexSettings(model="other-model", chunk_tokens=32, chunk_overlap=8))
    with pytest.raises(IndexMismatchError, match="chunk_tokens=32"):
        IndexStore.load(root, settings=IndexSettings(model="hash-64", chunk_tokens=64, chunk_overlap=8))


def test_format_version_mismatch(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder)
    manifest_path = store_mod.current_version(root) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 999"):
        IndexStore.load(root)


def test_corrupt_and_missing_files_are_detected(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder)
    version = store_mod.current_version(root)
    with open(version / "dense.faiss", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01garbage")
    with pytest.raises(IndexCorruptError, match="corrupt.*newsdesk index build"):
        IndexStore.load(root)
    (version / "articles.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        IndexStore.load(root)


def test_no_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexCorruptError, match="No index found"):
        IndexStore.load(tmp_path / "nothing")


def test_new_version_replaces_old_and_prunes(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder, n=3)
    first = store_mod.current_version(root)
    write_collection(root, make_articles(4), settings=SETTINGS, embedder=hash_embedder, progress=False)
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    versions = sorted(p.name for p in root.iterdir() if p.name.startswith("v-"))
    assert len(versions) == 2 and first.name not in versions  # live + previous only
    assert len(IndexStore.load(root).articles) == 5


def test_article_bm25_is_stored_and_rebuilt_for_older_indexes(tmp_path, hash_embedder):
    from index.sparse import scores

    root = build(tmp_path, hash_embedder)
    store = IndexStore.load(root, settings=SETTINGS)
    version = store_mod.current_version(root)
    assert (version / "bm25_articles").is_dir()
    assert any(name.startswith("bm25_articles/") for name in store.manifest["checksums"])
    expected = scores(store.article_bm25, "marathon record")
    assert expected.shape == (5,) and expected.max() > 0
    # An index written before the article index existed: no folder, no checksums for it.
    import shutil

    shutil.rmtree(version / "bm25_articles")
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["checksums"] = {k: v for k, v in manifest["checksums"].items() if not k.startswith("bm25_articles/")}
    (version / "manifest.json").write_text(json.dumps(manifest))
    again = IndexStore.load(root, settings=SETTINGS)
    assert np.allclose(scores(again.article_bm25, "marathon record"), expected)
