"""Crash safety and concurrent use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.build import write_collection
from index.settings import IndexSettings
from index.store import IndexStore
from tests.conftest import make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
ROOT = Path(__file__).resolve().parents[1]

# A build in a child process, slowed down inside embedding so the kill lands mid-way.
_CHILD = textwrap.dedent("""
    import sys, time
    from index.build import write_collection
    from index.settings import IndexSettings
    from tests.conftest import HashEmbedder, make_articles

    class Slow(HashEmbedder):
        def embed(self, texts, *, progress=False):
            time.sleep(float(sys.argv[2]))
            return super().embed(texts)

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    print("started", flush=True)
    write_collection(sys.argv[1], make_articles(40), settings=settings, embedder=Slow(), progress=False)
    print("done", flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3, 0.8])
def test_sigkill_during_build_keeps_previous_index(tmp_path, hash_embedder, delay):
    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(root), "0.5"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    store = IndexStore.load(root, settings=SETTINGS)  # verifies every checksum
    assert len(store.articles) in (3, 40)  # the old index, or the new one if it finished
    # a later build cleans up what the killed one left behind and succeeds
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert len(IndexStore.load(root).articles) == 5
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]


def test_kill_after_write_before_switch_keeps_previous(tmp_path, hash_embedder, monkeypatch):
    """Simulate a crash between writing the new version and switching the pointer."""
    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    import index.store as store_mod

    real_replace = os.replace

    def crash_on_pointer(src, dst):
        if str(dst).endswith(store_mod.POINTER):
            raise KeyboardInterrupt("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", crash_on_pointer)
    with pytest.raises(KeyboardInterrupt):
        write_collection(root, make_articles(6), settings=SETTINGS, embedder=hash_embedder, progress=False)
    monkeypatch.undo()
    assert len(IndexStore.load(root).articles) == 3


# A write in a child process that stops at a kill point: right after its complete version folder
# is renamed into place, or right before CURRENT is switched to it.
_STOP_AT = textwrap.dedent("""
    import os, sys, time
    import index.store as store_mod
    from index.build import write_collection
    from index.settings import IndexSettings
    from tests.conftest import HashEmbedder, make_articles

    real_replace, point = os.replace, sys.argv[2]

    def replace(src, dst):
        name = os.path.basename(dst)
        if point == "before-switch" and name == store_mod.POINTER:
            print("at kill point", flush=True)
            time.sleep(600)
        real_replace(src, dst)
        if point == "version-written" and name.startswith("v-"):
            print("at kill point", flush=True)
            time.sleep(600)

    store_mod.os.replace = replace
    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    write_collection(sys.argv[1], make_articles(6), settings=settings, embedder=HashEmbedder(), progress=False)
""")


@pytest.mark.parametrize("point", ["version-written", "before-switch"])
def test_restore_after_a_sigkill_before_the_switch_never_makes_the_unswitched_version_live(tmp_path, hash_embedder,
                                                                                           capsys, point):
    from index import store as store_mod
    from index.errors import IndexCorruptError
    from newsdesk.cli import main

    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    first = store_mod.current_version(root).name
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    live = store_mod.current_version(root).name
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _STOP_AT, str(root), point], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "at kill point"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    never_live = [p.name for p in root.iterdir() if p.name.startswith("v-") and p.name not in (first, live)]
    assert len(never_live) == 1 and store_mod.intact_versions(root)[0].name == never_live[0]  # complete, newest
    assert store_mod.current_version(root).name == live
    # The live version is damaged: the advice and restore go back to the version live before it.
    with open(root / live / "articles.jsonl", "r+b") as f:
        f.write(b"XX")
    with pytest.raises(IndexCorruptError, match=f"The previous version {first} is intact"):
        IndexStore.load(root, settings=SETTINGS)
    assert main(["index", "restore", "--index", str(root)]) == 0
    assert f"restored to version {first}" in capsys.readouterr().out
    assert len(IndexStore.load(root, settings=SETTINGS).articles) == 3


@pytest.mark.slow
def test_queries_in_flight_survive_an_index_update(sample_assistant, tmp_path):
    """Many threads query while articles are added; every query succeeds, and the new
    article is searchable right after the update."""
    assistant = sample_assistant.with_config()  # own state, same index
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask_loop() -> None:
        while not stop.is_set():
            try:
                answer = assistant.ask("Who did Hasanov meet at IDEF 2025?")
                assert "Görgün" in answer.text
            except BaseException as exc:  # noqa: BLE001 - collect everything for the assert
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask_loop) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        doc = tmp_path / "new.jsonl"
        doc.write_text('{"id": "zz-ferry", "title": "Quokka Ferry launches", "date": "2025-08-01", '
                       '"text": "The Quokka Ferry company launched a hydrogen ferry named Bluebell in Perth."}\n')
        report, build = assistant.add_articles([doc])
        assert build is not None and build.added == 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[:3]
    assert assistant.search("hydrogen ferry Bluebell", k=3)[0].article_id == "zz-ferry"
    assistant.remove_articles(["zz-ferry"])


@pytest.mark.slow
def test_concurrent_queries_on_one_assistant_match_sequential_results(sample_assistant):
    """8 threads x 5 queries on ONE shared assistant, started together, searches and answers
    interleaved: every result equals the one computed alone."""
    questions = [
        "Who did Hasanov meet at IDEF 2025?",
        "Which company opened a factory in Tampere?",
        "defence industry exhibition Istanbul",
        "Who won the 2031 Eurovision Song Contest?",
        "What did the defence ministers discuss?",
    ]
    calls = {"search": lambda q: sample_assistant.search(q, k=5), "ask": sample_assistant.ask}
    expected = {(name, q): call(q) for name, call in calls.items() for q in questions}
    threads = 8
    start = threading.Barrier(threads)

    def run(t: int) -> list[tuple[tuple[str, str], object]]:
        start.wait()
        jobs = [("search" if (t + j) % 2 else "ask", questions[(t + j) % len(questions)]) for j in range(5)]
        return [((name, q), calls[name](q)) for name, q in jobs]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [item for run_result in pool.map(run, range(threads)) for item in run_result]
    assert len(results) == threads * 5
    assert {key for key, _ in results} == set(expected)  # every question through both calls
    for key, result in results:
        assert result == expected[key], key


# --- a write that cannot be done is one line, and leaves the index whole (issue 30, F7) ---------

DEFAULTS_OF_THE_CLI = IndexSettings()  # `index add` without --model; HashEmbedder stands in for the model


def cli_index(tmp_path, hash_embedder, n=5):
    """An index the CLI's default settings can add to, and a file of new articles for it."""
    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=DEFAULTS_OF_THE_CLI, embedder=hash_embedder, progress=False)
    write_collection(root, make_articles(n), settings=DEFAULTS_OF_THE_CLI, embedder=hash_embedder, progress=False)
    src = tmp_path / "new.jsonl"
    src.write_text("".join(f'{{"id": "n{i}", "title": "New {i}", "text": "Fresh report {i} about the harbour '
                           f'ferries and the bridge, with details {i}."}}\n' for i in range(40)))
    return root, src


def one_error_line(err: str, start: str) -> None:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {start}"), err


# Runs in a private mount namespace (`unshare -rm`) as a user that may mount there: the index is
# copied onto a small tmpfs that is then filled (disk full), or bind-mounted read-only on itself,
# and the CLI runs on it with the test embedder; prints the exit codes and what is left.
_IN_NAMESPACE = textwrap.dedent("""
    import json, os, shutil, subprocess, sys
    from pathlib import Path
    import index.build
    from index.store import IndexStore
    from newsdesk.cli import main
    from tests.conftest import HashEmbedder

    index.build.Embedder = lambda *a, **k: HashEmbedder()
    case, root, src, mnt = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    if case == "full":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4096k", "tmpfs", str(mnt)], check=True)
        shutil.copytree(root, mnt / "idx")
        root = mnt / "idx"
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        with open(mnt / "filler", "wb") as f:  # leave 16 KiB: the new version's first file fits, not the rest
            f.write(b"\\0" * (free - 16 * 1024))
    else:
        subprocess.run(["mount", "--bind", "-o", "ro", str(root), str(root)], check=True)
    codes = [main(["index", "add", src, "--index", str(root), "--quiet"])]
    print("--", file=sys.stderr, flush=True)
    if case == "read-only":
        codes.append(main(["index", "restore", "--index", str(root)]))
    left = sorted(p.name for p in root.iterdir())
    print(json.dumps({"codes": codes, "left": left, "articles": len(IndexStore.load(root).articles)}))
""")


def in_namespace(case: str, root: Path, src: Path, mnt: Path) -> tuple[dict, list[str]]:
    import json
    import shutil

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs `unshare -rm` (a private mount namespace) for a real full or read-only disk")
    mnt.mkdir(exist_ok=True)
    done = subprocess.run(["unshare", "-rm", sys.executable, "-c", _IN_NAMESPACE, case, str(root), str(src), str(mnt)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr.split("--\n")


def test_a_full_disk_during_add_is_one_line_and_the_half_written_version_is_removed_at_once(tmp_path,
                                                                                           hash_embedder):
    root, src = cli_index(tmp_path, hash_embedder)
    result, errs = in_namespace("full", root, src, tmp_path / "mnt")
    assert result["codes"] == [1] and result["articles"] == 5
    one_error_line(errs[0], "Could not write the index at")
    assert "the disk is full" in errs[0] and "the index is unchanged" in errs[0]
    assert not [name for name in result["left"] if name.startswith(".tmp-")], result["left"]


def test_a_read_only_index_folder_is_one_line_for_add_and_restore(tmp_path, hash_embedder):
    root, src = cli_index(tmp_path, hash_embedder)
    result, errs = in_namespace("read-only", root, src, tmp_path / "mnt")
    assert result["codes"] == [1, 1] and result["articles"] == 5
    for err in errs[:2]:
        one_error_line(err, "Could not write the index at")
        assert "read-only" in err


@pytest.mark.parametrize("where", ["second file", "pointer"])
def test_a_write_that_fails_half_way_removes_its_version_at_once_and_names_the_cause(tmp_path, hash_embedder,
                                                                                   monkeypatch, where):
    """Without a mount namespace too: the write of the second file, or of the new CURRENT once the
    version is complete, fails as on a full disk."""
    import errno

    import numpy as np

    from index import store as store_mod
    from index.build import add_articles
    from index.errors import IndexWriteError

    root = tmp_path / "idx"
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False)
    live = store_mod.current_version(root).name
    real_savez, real_replace = np.savez, os.replace

    def full(path):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def savez(file, *args, **kwargs):
        real_savez(file, *args, **kwargs)
        raise full(file)

    def replace(src, dst):
        if os.path.basename(dst) == store_mod.POINTER:
            raise full(dst)
        real_replace(src, dst)

    if where == "second file":
        monkeypatch.setattr(store_mod.np, "savez", savez)
    else:
        monkeypatch.setattr(store_mod.os, "replace", replace)
    with pytest.raises(IndexWriteError, match="the disk is full.*the index is unchanged"):
        add_articles(root, make_articles(7)[5:], settings=SETTINGS, embedder=hash_embedder, progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in root.iterdir() if p.name not in (".lock", "CURRENT", "HISTORY")) == [live]
    assert store_mod.current_version(root).name == live and len(IndexStore.load(root).articles) == 5


def test_a_deeply_nested_manifest_is_one_line_for_ask_and_add(tmp_path, hash_embedder, capsys, monkeypatch):
    from newsdesk.cli import main
    from tests.conftest import HashEmbedder, rewrite_manifest

    monkeypatch.setattr("index.build.Embedder", lambda *a, **k: HashEmbedder())
    root, src = cli_index(tmp_path, hash_embedder)
    rewrite_manifest(root, lambda m: b"[" * 100_000 + b"]" * 100_000)
    for command in (["ask", "Which bridge opened?"], ["index", "add", str(src), "--quiet"]):
        assert main([*command, "--index", str(root)]) == 1
        one_error_line(capsys.readouterr().err, "Index manifest")
