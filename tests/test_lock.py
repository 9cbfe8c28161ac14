"""Many writers on one index: the writer lock, waiting, --no-wait, and crashed holders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from index.build import write_collection
from index.errors import IndexLockedError
from index.lock import write_lock
from index.settings import IndexSettings
from index.store import IndexStore
from tests.conftest import make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# Writer processes (tests/fixtures/writer.py): each waits for the start file, then adds its own
# articles with an embedder slowed like a real model, so every read-modify-write overlaps the others'.
WRITER = ROOT / "tests" / "fixtures" / "writer.py"


def writer_articles(name: str, n: int) -> str:
    return json.dumps([{"id": f"{name}-{i}", "title": f"{name} story {i}", "text": f"Writer {name} reports item {i}."}
                       for i in range(n)])


# Holds the lock until killed (a writer that crashes or hangs mid-write).
HOLDER = textwrap.dedent("""
    import sys, time
    from index.lock import write_lock
    with write_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def start_holder(root: Path, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(seconds)], env=ENV, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_parallel_writer_processes_lose_no_article(tmp_path, hash_embedder, summary):
    trials, writers, per_writer = 3, 3, 2
    for trial in range(trials):
        root = tmp_path / f"idx{trial}"
        write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
        go = tmp_path / f"go{trial}"
        children = [subprocess.Popen([sys.executable, str(WRITER), str(root), writer_articles(f"w{w}", per_writer),
                                      "--go", str(go), "--delay", "0.3"],
                                     env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for w in range(writers)]
        time.sleep(1.5)  # every writer imported and waiting
        go.touch()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0 and out.strip() == "done", err
        ids = set(IndexStore.load(root, settings=SETTINGS).article_row)
        expected = {f"a{i}" for i in range(5)} | {f"w{w}-{i}" for w in range(writers) for i in range(per_writer)}
        assert ids == expected, f"trial {trial + 1}: lost {sorted(expected - ids)}"
        assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    summary.append(f"concurrent writers: {trials} trials x {writers} writer processes "
                   f"({per_writer} articles each): every article present in every trial")


def test_no_wait_fails_fast_with_a_clear_error_and_a_killed_holder_frees_the_lock(tmp_path, capsys):
    from newsdesk.cli import main

    root = tmp_path / "idx"
    src = tmp_path / "new.jsonl"
    src.write_text('{"id": "n1", "title": "New", "text": "A new article about ferries."}\n')
    holder = start_holder(root, 60)
    try:
        started = time.perf_counter()
        code = main(["index", "add", str(src), "--index", str(root), "--no-wait", "--quiet"])
        assert time.perf_counter() - started < 10
        assert code == 1
        err = capsys.readouterr().err
        assert f"Another writer is updating the index at {root} (process {holder.pid})" in err
        with pytest.raises(IndexLockedError):
            with write_lock(root, wait=False):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with write_lock(root, wait=False):  # the OS released the killed writer's lock
        pass


def test_a_second_writer_waits_with_one_message(tmp_path, hash_embedder):
    root = tmp_path / "idx"
    holder = start_holder(root, 1.5)
    said: list[str] = []
    started = time.perf_counter()
    try:
        with write_lock(root, notify=said.append):
            assert time.perf_counter() - started > 1.0  # got the lock only once the holder let go
    finally:
        holder.wait(timeout=30)
    assert len(said) == 1 and said[0].startswith(f"Waiting for another writer on the index at {root}")


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    import threading

    root = tmp_path / "idx"
    outcome: list[str] = []
    with write_lock(root), write_lock(root, wait=False):  # nested: add -> write_collection -> write_store
        def other() -> None:
            try:
                with write_lock(root, wait=False):
                    outcome.append("got it")
            except IndexLockedError:
                outcome.append("refused")

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert outcome == ["refused"]
    with write_lock(root, wait=False):
        pass


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_a_lock_file_that_is_a_directory_or_a_link_is_one_line_and_nothing_outside_is_touched(tmp_path,
                                                                                            hash_embedder, capsys,
                                                                                            kind):
    from newsdesk.cli import main

    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    (root / ".lock").unlink()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    (root / ".lock").mkdir() if kind == "directory" else (root / ".lock").symlink_to(outside)
    for command in (["index", "restore"], ["index", "remove", "a0"]):
        assert main([*command, "--index", str(root)]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"error: The index's lock file {root / '.lock'} is a {kind}") and "remove it" in err
    assert outside.read_text() == "keep me"
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 5


@pytest.mark.parametrize("command", ["add", "restore"])
def test_a_read_only_folder_is_a_named_error_without_a_mount_namespace_too(tmp_path, hash_embedder, monkeypatch,
                                                                          command):
    """The real read-only mount is in test_reliability.py (it needs `unshare`); here the lock
    file's open fails as it does there."""
    import errno

    from index import lock as lock_mod
    from index import store as store_mod
    from index.build import add_articles
    from index.errors import IndexWriteError

    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & (os.O_RDWR | os.O_WRONLY | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(lock_mod.os, "open", read_only)
    with pytest.raises(IndexWriteError, match=f"Could not write the index at {root}: the folder is read-only"):
        if command == "add":
            add_articles(root, make_articles(7)[5:], settings=SETTINGS, embedder=hash_embedder, progress=False)
        else:
            store_mod.restore(root)
    monkeypatch.undo()
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 5
