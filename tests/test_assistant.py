"""``Assistant`` on an index that other processes write to: it reloads, and its own uploads
go through the same writer lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import write_collection
from index.settings import IndexSettings
from index.store import IndexStore
from rag import Assistant
from rag.config import Config
from tests.conftest import HashEmbedder, make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# Another process adding one article (tests/fixtures/writer.py), embedding slowly as a real model does.
WRITER = ROOT / "tests" / "fixtures" / "writer.py"
TRAM = json.dumps([{"id": "cli-1", "title": "Zephyrine tram line opens",
                    "text": "The Zephyrine tram line opened today."}])


def assistant_over(tmp_path: Path) -> Assistant:
    root = tmp_path / "idx"
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    config = Config(index=SETTINGS, rerank={"articles": 0})
    return Assistant(IndexStore.load(root, settings=SETTINGS), config=config, embedder=HashEmbedder())


def other_writer(root: Path, go: str = "-", delay: float = 0.0) -> subprocess.Popen:
    start = [] if go == "-" else ["--go", go]
    return subprocess.Popen([sys.executable, str(WRITER), str(root), TRAM, *start, "--delay", str(delay)], env=ENV,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_serving_assistant_reloads_when_another_process_writes(tmp_path):
    assistant = assistant_over(tmp_path)
    assert assistant.stats().articles == 5
    child = other_writer(assistant.index_dir)
    assert child.wait(timeout=120) == 0, child.stderr.read()
    assert assistant.stats().articles == 6
    assert assistant.search("Zephyrine tram line", k=1)[0].article_id == "cli-1"


def test_an_upload_and_another_process_add_both_survive(tmp_path):
    from ui.session import Session, Workspace

    for trial in range(2):
        assistant = assistant_over(tmp_path / f"t{trial}")
        workspace = Workspace(assistant, private_uploads=False)  # `serve --index DIR`: uploads go to DIR
        go = tmp_path / f"go{trial}"
        child = other_writer(assistant.index_dir, str(go), delay=0.4)
        time.sleep(1.5)  # the other writer imported and waiting
        upload = tmp_path / f"upload{trial}.jsonl"
        upload.write_text('{"id": "ui-1", "title": "Harbour kiosk", "text": "A kiosk opened at the harbour."}\n')
        go.touch()
        if trial:  # the other process first (it holds the lock while it embeds), then the upload
            time.sleep(0.2)
        _, build = workspace.add_articles(Session(), [upload])
        assert build is not None and build.added == 1
        assert child.wait(timeout=120) == 0, child.stderr.read()
        on_disk = set(IndexStore.load(assistant.index_dir, settings=SETTINGS).article_row)
        assert {"ui-1", "cli-1"} <= on_disk, f"trial {trial}: {sorted(on_disk)}"
        assert assistant.stats().articles == 7
        assert assistant.search("Zephyrine tram line", k=1)[0].article_id == "cli-1"



def test_k_means_k_passages_in_the_answer(tmp_path):
    """The answer's passages are the k retrieved, not k plus the context read around them."""
    assistant = assistant_over(tmp_path)
    for k in (1, 2, 3):
        answer = assistant.ask("harbour bridge opens today", k=k)
        assert [p.chunk_id for p in answer.passages] == [p.chunk_id for p in
                                                        assistant.search("harbour bridge opens today", k=k)]


def test_article_reads_a_stored_article_and_its_story_copies(tmp_path):
    """What ``newsdesk mcp``'s fetch returns: the cleaned text as indexed, and the other copies."""
    from wire import other_report, wire_copies

    root = tmp_path / "idx"
    copies = wire_copies()
    write_collection(root, [*copies, other_report(), *make_articles(3)], settings=SETTINGS, embedder=HashEmbedder(),
                     progress=False)
    config = Config(index=SETTINGS, rerank={"articles": 0})
    assistant = Assistant(IndexStore.load(root, settings=SETTINGS), config=config, embedder=HashEmbedder())
    first = copies[0]
    article, also = assistant.article(first.id)
    assert (article.id, article.title, article.url) == (first.id, first.title, first.url)
    assert "Dock workers at the Port of Valmora" in article.text
    assert {c.article_id for c in also} == {a.id for a in copies[1:]}
    assert [c.date for c in also] == sorted(c.date for c in also)  # oldest first
    assert assistant.article("a1")[1] == ()  # a story of its own
    for missing in ("no-such-id", "", None):
        with pytest.raises(ValueError, match="no article with id"):
            assistant.article(missing)
