"""``newsdesk index`` commands on small indexes: removals of unknown ids, a missing index, Ctrl-C
during a build (with the bundled model), the wording of counts."""

from __future__ import annotations

import pytest

from index.build import write_collection
from index.errors import IndexCorruptError, IndexNotFoundError
from index.settings import IndexSettings
from index.store import IndexStore
from newsdesk.cli import main
from tests.conftest import free_port, make_articles

HASH = IndexSettings(model="hash-64")


def test_removing_unknown_ids_names_them_and_fails_when_none_is_known(tmp_path, hash_embedder, capsys):
    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=HASH, embedder=hash_embedder, progress=False)
    assert main(["index", "remove", "nosuchid", "--index", str(root), "--model", "hash-64"]) == 1
    captured = capsys.readouterr()
    assert "no article with the id nosuchid; nothing was removed" in captured.err and "0 removed" not in captured.out
    assert main(["index", "remove", "a0", "nosuchid", "--index", str(root), "--model", "hash-64"]) == 0
    out = capsys.readouterr().out
    assert "1 removed" in out and "Not in the index, so not removed: nosuchid" in out
    assert sorted(IndexStore.load(root).article_row) == ["a1", "a2"]


def test_a_missing_index_is_not_found_not_corrupt(tmp_path, capsys):
    missing = tmp_path / "none"
    with pytest.raises(IndexNotFoundError, match=r"No index found at .*none \(no such folder\)\. Build one with: "
                                                 r"newsdesk index build PATH\.\.\. --index") as found:
        IndexStore.load(missing)
    assert isinstance(found.value, IndexCorruptError)  # what a missing index raised before: still caught by it
    assert "damaged" not in str(found.value) and "restore" not in str(found.value)
    missing.mkdir()  # a folder, but no index in it
    with pytest.raises(IndexNotFoundError, match=r"\(no CURRENT file\)"):
        IndexStore.load(missing)
    assert main(["index", "stories", "--index", str(missing)]) == 1
    assert "error: No index found at" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_says_a_missing_index_is_not_found(tmp_path, capsys):
    assert main(["serve", "--index", str(tmp_path / "none"), "--port", str(free_port())]) == 1
    assert "error: No index found at" in capsys.readouterr().err


def test_watch_once_does_not_announce_a_watch(tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert main(["index", "watch", str(inbox), "--index", str(tmp_path / "idx"), "--once"]) == 0
    assert capsys.readouterr().out == f"Adding the files in {inbox} once\n"


@pytest.mark.slow
def test_ctrl_c_during_a_build_prints_one_line_and_the_rerun_embeds_only_the_rest(tmp_path, capsys, monkeypatch):
    """The bundled model, with Ctrl-C pressed during its third slice of chunks."""
    import index.build
    from index.embed import Embedder

    monkeypatch.setattr(index.build, "CHECKPOINT_CHUNKS", 16)
    real_embed, embedded = Embedder.embed, []

    def embed(self, texts, *, progress=False):  # noqa: ANN001, ANN202
        if stop_at and len(embedded) == stop_at:
            raise KeyboardInterrupt
        embedded.append(len(texts))
        return real_embed(self, texts, progress=progress)

    monkeypatch.setattr(Embedder, "embed", embed)
    idx, stop_at = tmp_path / "idx", 2
    command = ["index", "build", "index/sample/articles.jsonl", "--index", str(idx)]
    assert main(command) == 130
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("Interrupted")]
    assert lines == ["Interrupted: 32 chunks embedded so far are kept, the index is as it was. Run the same "
                     "command again to go on from there."]
    assert "Traceback" not in err and "Reading index/sample/articles.jsonl..." in err
    embedded.clear()
    stop_at = 0
    assert main(command) == 0
    out = capsys.readouterr().out
    total = sum(embedded) + 32
    assert f"{total - 32:,} chunks embedded, " in out and "32 of them from an interrupted build" in out
    assert total == IndexStore.load(idx).dense.ntotal
