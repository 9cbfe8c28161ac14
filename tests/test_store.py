import json

import numpy as np
import pytest

from index import store as store_mod
from index.build import write_collection
from index.errors import IndexCorruptError, IndexMismatchError
from index.settings import IndexSettings
from index.store import IndexStore
from tests.conftest import make_articles, rewrite_manifest

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
    rewrite_manifest(root, lambda m: {**m, "format_version": 999})
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
    rewrite_manifest(root, lambda m: {**m, "checksums": {k: v for k, v in m["checksums"].items()
                                                         if not k.startswith("bm25_articles/")}})
    again = IndexStore.load(root, settings=SETTINGS)
    assert np.allclose(scores(again.article_bm25, "marathon record"), expected)


# --- damage: what is detected, and the way back ------------------------------------------------


def corrupt_articles(root) -> None:
    with open(store_mod.current_version(root) / "articles.jsonl", "r+b") as f:
        f.write(b"XX")


def edit_manifest(root, change) -> None:
    rewrite_manifest(root, change)


def drop(key):
    return lambda m: {k: v for k, v in m.items() if k != key}


MANIFEST_DAMAGE = {
    "a list": lambda m: [],
    "no checksums": drop("checksums"),
    "no chunking": drop("chunking"),
    "empty checksums": lambda m: {**m, "checksums": {}},
    "one file without a checksum": lambda m: {**m, "checksums": {k: v for k, v in m["checksums"].items()
                                                                 if k != "articles.jsonl"}},
    "a bm25 file without a checksum": lambda m: {**m, "checksums": {k: v for k, v in m["checksums"].items()
                                                                    if not k.startswith("bm25/")}},
}


@pytest.mark.parametrize("damage", MANIFEST_DAMAGE)
def test_a_manifest_lacking_fields_or_checksums_is_damage(tmp_path, hash_embedder, damage):
    root = build(tmp_path, hash_embedder)
    corrupt_articles(root)  # with the checksums gone, this must not load silently
    edit_manifest(root, MANIFEST_DAMAGE[damage])
    for verify in (True, False):
        with pytest.raises(IndexCorruptError, match=r"manifest .* (lacks|has no checksum|is not a JSON object)"):
            IndexStore.load(root, settings=SETTINGS, verify=verify)


def test_a_hidden_file_a_desktop_drops_into_a_version_is_not_damage(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder)
    (store_mod.current_version(root) / ".DS_Store").write_bytes(b"\x00\x01")
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 5


@pytest.mark.parametrize("pointer", ["../../../etc", "/etc", "v-x/../../../etc", "..", "", "v-\x00"])
def test_current_must_name_a_version_folder_inside_the_index(tmp_path, hash_embedder, pointer):
    root = build(tmp_path, hash_embedder)
    (root / "CURRENT").write_text(pointer + "\n")
    with pytest.raises(IndexCorruptError, match="not a version folder of this index"):
        IndexStore.load(root)


def test_the_damage_error_names_the_intact_previous_version_and_restore_brings_it_back(tmp_path, hash_embedder,
                                                                                        capsys):
    from newsdesk.cli import main

    root = build(tmp_path, hash_embedder, n=3)
    first = store_mod.current_version(root).name
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    corrupt_articles(root)
    with pytest.raises(IndexCorruptError) as caught:
        IndexStore.load(root, settings=SETTINGS)
    assert f"The previous version {first} is intact: restore it with newsdesk index restore --index {root}" \
        in str(caught.value)
    assert main(["index", "restore", "--index", str(root)]) == 0
    assert f"restored to version {first}" in capsys.readouterr().out
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 3
    # The damaged version is not offered again; the next write clears it away.
    with pytest.raises(IndexCorruptError, match="No intact earlier version"):
        store_mod.restore(root)
    write_collection(root, make_articles(4), settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("v-"))[0] == first
    assert len(store_mod.intact_versions(root)) == 2


DAMAGE = {
    "corrupt file": corrupt_articles,
    "manifest a list": lambda root: edit_manifest(root, lambda m: []),
    "no manifest": lambda root: (store_mod.current_version(root) / "manifest.json").unlink(),
    "pointer outside": lambda root: (root / "CURRENT").write_text("../../../etc\n"),
    "no pointer": lambda root: (root / "CURRENT").unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_build_over_a_damaged_index_succeeds_and_an_add_refuses(tmp_path, hash_embedder, damage):
    from index.build import add_articles, build_index

    root = build(tmp_path, hash_embedder, n=3)
    DAMAGE[damage](root)
    with pytest.raises(IndexCorruptError, match="newsdesk index build"):
        add_articles(root, make_articles(4)[3:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(a.to_dict()) + "\n" for a in make_articles(4)))
    report = build_index([src], root, settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert "Note: the index was damaged" in report.summary()
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 4


# --- writers never build on an index they cannot read as their own (issue 30, F1) --------------

OTHER_MODEL = IndexSettings(model="copy-of-hash-64", chunk_tokens=32, chunk_overlap=8)
OTHER_CHUNKING = IndexSettings(model="hash-64", chunk_tokens=64, chunk_overlap=8)


def add_one(root, settings, embedder):
    from index.build import add_articles

    return add_articles(root, make_articles(7)[6:], settings=settings, embedder=embedder, progress=False)


def remove_one(root, settings, embedder):
    from index.build import remove_articles

    return remove_articles(root, ["a0"], settings=settings, embedder=embedder)


def watch_one(root, settings, embedder):
    from index.watch import Watcher

    inbox = root.parent / "inbox"
    inbox.mkdir()
    (inbox / "new.jsonl").write_text(json.dumps(make_articles(7)[6].to_dict()) + "\n")
    Watcher(inbox, root, settings=settings, embedder=embedder, report=lambda line: None).run(once=True)


WRITERS = {"add": add_one, "remove": remove_one, "watch": watch_one}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("settings", [OTHER_MODEL, OTHER_CHUNKING], ids=["model", "chunking"])
def test_every_writer_refuses_an_index_built_with_other_settings_and_leaves_it_whole(tmp_path, hash_embedder,
                                                                                   writer, settings):
    root = build(tmp_path, hash_embedder)
    live = store_mod.current_version(root).name
    with pytest.raises(IndexMismatchError, match="was built with"):
        WRITERS[writer](root, settings, hash_embedder)
    assert store_mod.current_version(root).name == live
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 5


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_refuses_an_index_of_another_format_version(tmp_path, hash_embedder, writer):
    root = build(tmp_path, hash_embedder)
    edit_manifest(root, lambda m: {**m, "format_version": 2})
    live = store_mod.current_version(root).name
    with pytest.raises(IndexMismatchError, match="format version 2"):
        WRITERS[writer](root, SETTINGS, hash_embedder)
    assert store_mod.current_version(root).name == live
    assert json.loads((root / live / "manifest.json").read_text())["counts"]["articles"] == 5
    assert "format_version" in store_mod._read_manifest(root / live)  # the refusal was not taken for damage


def test_an_upload_to_an_index_rebuilt_with_another_model_is_refused(tmp_path, hash_embedder):
    from rag import Assistant
    from rag.config import Config

    root = build(tmp_path, hash_embedder)
    config = Config(index=SETTINGS, rerank={"articles": 0})
    assistant = Assistant(IndexStore.load(root, settings=SETTINGS), config=config,
                          embedder=hash_embedder)
    # Another process rebuilds the index with another model (a build may replace it whole).
    write_collection(root, make_articles(3), settings=OTHER_MODEL, embedder=hash_embedder, progress=False)
    with pytest.raises(IndexMismatchError, match="embedding model 'copy-of-hash-64'"):
        assistant.add_articles(make_articles(7)[6:])
    assert len(IndexStore.load(root, settings=OTHER_MODEL).articles) == 3


def test_cli_add_on_an_index_built_with_another_model_is_one_error_line_and_drops_nothing(
        tmp_path, hash_embedder, monkeypatch, capsys):
    from newsdesk.cli import main
    from tests.conftest import HashEmbedder

    monkeypatch.setattr("index.build.Embedder", lambda *a, **k: HashEmbedder())  # no model files needed
    root = tmp_path / "idx"
    # `index build --model COPY_OF_MODEL ...`, then `index add` without --model.
    write_collection(root, make_articles(5), settings=IndexSettings(model="COPY_OF_MODEL"), embedder=hash_embedder,
                     progress=False)
    src = tmp_path / "new.jsonl"
    src.write_text(json.dumps(make_articles(7)[6].to_dict()) + "\n")
    assert main(["index", "add", str(src), "--index", str(root), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Index at") and "embedding model 'COPY_OF_MODEL'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert len(IndexStore.load(root).articles) == 5


def test_a_build_over_an_index_built_with_another_model_says_it_replaced_it(tmp_path, hash_embedder):
    from index.build import build_index

    root = build(tmp_path, hash_embedder)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(a.to_dict()) + "\n" for a in make_articles(3)))
    report = build_index([src], root, settings=OTHER_MODEL, embedder=hash_embedder, progress=False)
    assert "Note: the index was built with embedding model 'hash-64'" in report.summary()
    assert "it was built anew from the given files" in report.summary()
    assert len(IndexStore.load(root, settings=OTHER_MODEL).articles) == 3


# --- CURRENT and version folders: never read or serve anything outside the index (F9, N7, F7) ---


def two_versions(tmp_path, embedder):
    root = build(tmp_path, embedder, n=3)
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=embedder, progress=False)
    return root


@pytest.mark.parametrize("target", ["secret file", "version name file", "missing"])
def test_a_symlinked_current_is_never_read_through(tmp_path, hash_embedder, target):
    root = build(tmp_path, hash_embedder)
    live = store_mod.current_version(root).name
    outside = tmp_path / "outside.txt"
    if target != "missing":
        outside.write_text("root:x:0:0:root:/root:/bin/bash\n" if target == "secret file" else live + "\n")
    (root / "CURRENT").unlink()
    (root / "CURRENT").symlink_to(outside)
    with pytest.raises(IndexCorruptError, match="CURRENT is a symbolic link") as caught:
        IndexStore.load(root)
    assert "root:" not in str(caught.value) and "/bin/bash" not in str(caught.value)


@pytest.mark.parametrize("content", ["root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1", "v-\x1b[31mred", "x" * 5000,
                                     "v-" + "a" * 100])
def test_current_that_names_no_version_is_not_quoted(tmp_path, hash_embedder, content):
    root = build(tmp_path, hash_embedder)
    (root / "CURRENT").write_text(content)
    with pytest.raises(IndexCorruptError, match="not a version folder of this index") as caught:
        IndexStore.load(root)
    message = str(caught.value)
    assert "root:" not in message and "\x1b" not in message and "xxxx" not in message and "aaaa" not in message


def test_a_version_folder_that_is_a_symlink_out_of_the_index_is_neither_served_nor_built_on(tmp_path,
                                                                                            hash_embedder):
    import shutil

    from index.build import add_articles

    root = two_versions(tmp_path, hash_embedder)
    live = store_mod.current_version(root)
    outside = tmp_path / "elsewhere" / "v-20990101T000000-000000000-evil00"
    shutil.copytree(live, outside)
    (root / outside.name).symlink_to(outside, target_is_directory=True)
    assert outside.name not in [p.name for p in store_mod.intact_versions(root)]
    (root / "CURRENT").write_text(outside.name + "\n")
    with pytest.raises(IndexCorruptError, match="is a symbolic link, not a version folder inside the index"):
        IndexStore.load(root)
    with pytest.raises(IndexCorruptError, match="symbolic link"):
        add_articles(root, make_articles(7)[6:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert store_mod.restore(root) == live.name  # the real folder, not the link
    assert len(IndexStore.load(root).articles) == 5
    assert len(list(outside.iterdir())) == len(list(live.iterdir()))  # nothing outside was touched


@pytest.mark.parametrize("filled", [False, True], ids=["empty", "not empty"])
def test_current_as_a_directory_is_one_error_and_restore_works_or_says_what_to_do(tmp_path, hash_embedder, capsys,
                                                                                filled):
    from newsdesk.cli import main

    root = two_versions(tmp_path, hash_embedder)
    live = store_mod.current_version(root).name
    (root / "CURRENT").unlink()
    (root / "CURRENT").mkdir()
    if filled:
        (root / "CURRENT" / "notes.txt").write_text("keep me")
    with pytest.raises(IndexCorruptError, match="newsdesk index restore"):
        IndexStore.load(root)
    code = main(["index", "restore", "--index", str(root)])
    out, err = capsys.readouterr()
    if filled:
        assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert err.startswith(f"error: Index pointer {root / 'CURRENT'} is a directory") and "move it away" in err
        assert (root / "CURRENT" / "notes.txt").read_text() == "keep me"
    else:
        assert code == 0 and f"restored to version {live}" in out
        assert len(IndexStore.load(root).articles) == 5


# --- a damaged manifest is reported as the manifest's damage (N9) ------------------------------


def test_every_flipped_byte_of_the_manifest_is_blamed_on_the_manifest(tmp_path, hash_embedder):
    root = build(tmp_path, hash_embedder)
    version = store_mod.current_version(root)
    path = version / "manifest.json"
    good = path.read_bytes()
    for i in range(len(good)):
        path.write_bytes(good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1:])
        with pytest.raises(IndexCorruptError) as caught:
            store_mod._read_manifest(version)
        assert f"manifest {path}" in str(caught.value), i
    # Through a load: a flip in a file's checksum names the manifest, not that file.
    digest = json.loads(good)["checksums"]["bm25/indices.csc.index.npy"]
    at = good.index(digest.encode()) + 10
    path.write_bytes(good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1:])
    with pytest.raises(IndexCorruptError, match="manifest.json is damaged") as caught:
        IndexStore.load(root, settings=SETTINGS)
    assert "indices.csc" not in str(caught.value)
