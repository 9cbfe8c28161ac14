"""``newsdesk index watch``: files landing in a folder are added in batches, once settled,
through the writer lock, with a line per batch and the load problems."""

from __future__ import annotations

import gzip
import json
import threading
import time

import pytest

from index.build import add_articles
from index.records import Article
from index.store import IndexStore
from index.watch import Watcher


def _jsonl(rows) -> str:
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def _row(i: int, text: str = "") -> dict:
    return {"id": f"w{i}", "title": f"Harbour report {i}",
            "text": text or f"Report number {i} from the harbour, where ships waited at anchor today."}


def _ids(index_dir) -> set[str]:
    return {a.id for a in IndexStore.load(index_dir).articles}


def test_files_are_taken_once_settled_and_each_batch_is_one_line(tmp_path, hash_embedder):
    inbox, index_dir, lines = tmp_path / "inbox", tmp_path / "index", []
    inbox.mkdir()
    (inbox / "first.jsonl").write_text(_jsonl([_row(1), _row(2)]))
    watcher = Watcher(inbox, index_dir, embedder=hash_embedder, interval=0.1, report=lines.append)
    watcher.run(once=True)  # what is there at the start is the first batch
    assert _ids(index_dir) == {"w1", "w2"}
    assert lines == ["batch 1: 1 file, 2 articles (2 added, 0 replaced); the index holds 2 articles; "
                     + lines[0].rsplit("; ", 1)[1]]

    # A file that lands is taken at the poll after the one that first saw it (its size held still).
    (inbox / "second.jsonl.gz").write_bytes(gzip.compress(_jsonl([_row(3), {"id": "bad"}]).encode()))
    (inbox / "download.jsonl.part").write_text("half a file")  # not a format we read: passed over
    (inbox / ".hidden.jsonl").write_text(_jsonl([_row(9)]))
    assert watcher.poll() is None
    batch = watcher.poll()
    assert batch is not None and [p.name for p in batch.files] == ["second.jsonl.gz"]
    assert _ids(index_dir) == {"w1", "w2", "w3"}
    assert lines[1].startswith("batch 2: 1 file, 1 article (1 added, 0 replaced), 1 skipped; the index holds 3")
    assert lines[2].endswith("second.jsonl.gz:2: missing text (looked for: text, body, content, article, "
                             "article_text, story)")
    assert watcher.poll() is None  # nothing new

    # A file that changes is taken again: its edited article is replaced, the others kept.
    (inbox / "first.jsonl").write_text(_jsonl([_row(1, "An updated report from the harbour today."), _row(2)]))
    watcher.poll()
    batch = watcher.poll()
    assert batch is not None and batch.build.changed == 1 and batch.build.added == 0


def test_a_batch_builds_on_what_another_writer_added_meanwhile(tmp_path, hash_embedder):
    inbox, index_dir = tmp_path / "inbox", tmp_path / "index"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(_jsonl([_row(1)]))
    watcher = Watcher(inbox, index_dir, embedder=hash_embedder, interval=0.1, report=lambda line: None)
    watcher.run(once=True)
    add_articles(index_dir, [Article(id="other", title="Other writer", text="Added by another process today.")],
                 embedder=hash_embedder, progress=False)
    (inbox / "b.jsonl").write_text(_jsonl([_row(2)]))
    watcher.poll()
    watcher.poll()
    assert _ids(index_dir) == {"w1", "w2", "other"}


def test_watching_in_a_thread_picks_up_files_until_stopped(tmp_path, hash_embedder):
    inbox, index_dir, lines = tmp_path / "inbox", tmp_path / "index", []
    inbox.mkdir()
    stop = threading.Event()
    watcher = Watcher(inbox, index_dir, embedder=hash_embedder, interval=0.05, report=lines.append)
    thread = threading.Thread(target=watcher.run, kwargs={"stop": stop})
    thread.start()
    try:
        (inbox / "feed.jsonl").write_text(_jsonl([_row(5), _row(6)]))
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert lines and lines[0].startswith("batch 1: 1 file, 2 articles (2 added")
    assert _ids(index_dir) == {"w5", "w6"}


def test_a_missing_folder_or_bad_interval_is_refused(tmp_path, hash_embedder):
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        Watcher(tmp_path / "nope", tmp_path / "index", embedder=hash_embedder)
    with pytest.raises(ValueError, match="interval must be positive"):
        Watcher(tmp_path, tmp_path / "index", embedder=hash_embedder, interval=0)


@pytest.mark.slow
def test_a_batch_line_counts_one_article_in_the_singular(tmp_path, hash_embedder):
    inbox, lines = tmp_path / "inbox", []
    inbox.mkdir()
    (inbox / "one.jsonl").write_text(_jsonl([_row(1)]))
    Watcher(inbox, tmp_path / "index", embedder=hash_embedder, report=lines.append).run(once=True)
    assert lines[0].startswith("batch 1: 1 file, 1 article (1 added, 0 replaced); the index holds 1 article; ")


def test_cli_watch_once_adds_the_folder_with_the_real_model(tmp_path, capsys):
    from newsdesk.cli import main

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(_jsonl([_row(1), _row(2)]))
    assert main(["index", "watch", str(inbox), "--index", str(tmp_path / "index"), "--once"]) == 0
    out = capsys.readouterr().out
    assert f"Adding the files in {inbox} once\n" in out and "batch 1: 1 file, 2 articles (2 added, 0 replaced)" in out
    assert "Ctrl-C" not in out and "every" not in out  # --once does not announce a watch it never keeps
    assert _ids(tmp_path / "index") == {"w1", "w2"}
