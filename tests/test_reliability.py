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
