"""The Milvus backend against the real engine: a Milvus Lite 2.5 server (the C++ Milvus engine)
started by these tests on 127.0.0.1 and reached over gRPC, as a Milvus cluster is."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.backend import LocalBackend, open_backend, sync_live
from index.build import add_articles, remove_articles, write_collection
from index.errors import BackendError, IndexMismatchError
from index.filters import Filters
from index.records import Article
from index.settings import IndexSettings
from index.store import IndexStore
from index.tokenize import terms
from tests.conftest import free_port, make_articles

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
WRITER = ROOT / "tests" / "fixtures" / "writer.py"


@pytest.fixture
def engine(milvus_url, request):
    backend = open_backend(f"{milvus_url}?collection=t_{request.node.name[5:40].replace('-', '_')}")
    backend.drop()
    yield backend
    backend.drop()
    backend.close()


def dated_articles() -> list[Article]:
    out = []
    for i, a in enumerate(make_articles(7)):
        date = None if i == 6 else datetime.date(2025, 1, 1 + 5 * i)
        source = "azernews.az" if i % 2 else "example.com"
        out.append(Article(id=a.id, title=a.title, text=a.text, url=a.url, source=source, date=date))
    return out


def _ranked(hits) -> list[tuple[float, int]]:
    """Hits by score, rows in a tie by number (the hashed test vectors tie often)."""
    return sorted((-round(h.score, 3), h.row) for h in hits)


FILTERS = [
    Filters(),
    Filters(date_from=datetime.date(2025, 1, 6), date_to=datetime.date(2025, 1, 21)),
    Filters(sources=("AzerNews.az",)),
    Filters(as_of=datetime.date(2025, 1, 12)),
    Filters(as_of=datetime.date(2025, 2, 1), sources=("example.com",), date_from=datetime.date(2025, 1, 2)),
]


def test_the_engine_finds_what_the_folder_finds_with_every_filter(tmp_path, hash_embedder, engine):
    root = tmp_path / "idx"
    write_collection(root, dated_articles(), settings=SETTINGS, embedder=hash_embedder, progress=False,
                     backend=engine)
    store = IndexStore.load(root)
    local, remote = LocalBackend().searcher(store), engine.searcher(store)
    found = 0
    for query in ("central bank raises rates", "marathon record", "story number 3 ferry"):
        vector = hash_embedder.embed_query(query)
        for f in FILTERS:  # n above the chunk count: no tie is cut at the end of the list
            want, got = local.dense(vector, 100, f), remote.dense(vector, 100, f)
            assert _ranked(got) == _ranked(want), (query, f)
            # The same BM25 (k1, b and the Lucene scale): scores match, not only the order.
            want, got = local.sparse(terms(query), 100, f), remote.sparse(terms(query), 100, f)
            assert _ranked(got) == _ranked(want), (query, f)
            found += bool(want)
    assert found >= 10  # most filters leave BM25 hits to compare


def test_add_replace_and_remove_keep_the_engine_equal_to_the_folder(tmp_path, hash_embedder, engine):
    root = tmp_path / "idx"
    write_collection(root, make_articles(4), settings=SETTINGS, embedder=hash_embedder, progress=False,
                     backend=engine)
    assert set(engine.held()) == {"a0", "a1", "a2", "a3"}
    changed = Article(id="a1", title="Story 1: a new headline", text="The ferry strike ended on Tuesday. " * 4)
    report = add_articles(root, [changed, Article(id="n1", title="New", text="Lighthouse keeper retires.")],
                          settings=SETTINGS, embedder=hash_embedder, progress=False, backend=engine)
    assert (report.sync.added, report.sync.removed) == (2, 1)  # n1 new; a1 replaced (deleted, added)
    remove_articles(root, ["a2"], settings=SETTINGS, embedder=hash_embedder, backend=engine)
    store = IndexStore.load(root)
    assert engine.held() == {a.id: a.content_hash for a in store.articles}
    assert engine.count() == len(store)
    # The replaced article is found by its new words only.
    search = engine.searcher(store)
    assert {store.articles[store.chunk_article[h.row]].id for h in search.sparse(["ferri", "strike"], 5, Filters())} \
        == {"a1"}
    assert not search.sparse(terms("central bank raises rates"), 5, Filters()) or all(
        store.articles[store.chunk_article[h.row]].id != "a1" for h in search.sparse(["central"], 5, Filters()))
    again = sync_live(engine, root)
    assert (again.added, again.removed, again.chunks) == (0, 0, 0)


def test_an_interrupted_sync_is_repaired_by_the_next(tmp_path, hash_embedder, engine):
    root = tmp_path / "idx"
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False,
                     backend=engine)
    store = IndexStore.load(root)
    # As a crash between deleting a changed article and inserting it again leaves it: gone.
    engine.client.delete(engine.collection, filter='article in ["a3"]')
    assert "a3" not in engine.held()
    report = sync_live(engine, root)
    assert (report.added, report.removed) == (1, 0)
    assert engine.held() == {a.id: a.content_hash for a in store.articles}
    assert engine.count() == len(store)


def test_a_sync_from_a_replaced_version_syncs_the_live_one(tmp_path, hash_embedder, engine):
    root = tmp_path / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False)
    old = IndexStore.load(root)
    add_articles(root, [Article(id="n1", title="New", text="Lighthouse keeper retires.")], settings=SETTINGS,
                 embedder=hash_embedder, progress=False)
    sync_live(engine, root, loaded=old)  # a writer replaced ``old`` meanwhile: its version is not synced
    assert set(engine.held()) == {"a0", "a1", "a2", "n1"}
    again = sync_live(engine, root, loaded=IndexStore.load(root))
    assert (again.added, again.removed) == (0, 0)


def test_parallel_writer_processes_lose_no_article_in_the_engine(tmp_path, hash_embedder, engine):
    writers, per_writer = 3, 2
    root = tmp_path / "idx"
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=hash_embedder, progress=False,
                     backend=engine)
    go = tmp_path / "go"
    children = [subprocess.Popen(
        [sys.executable, str(WRITER), str(root),
         json.dumps([{"id": f"w{w}-{i}", "title": f"w{w} story {i}", "text": f"Writer {w} reports item {i}."}
                     for i in range(per_writer)]),
         "--go", str(go), "--delay", "0.3", "--backend-url", engine.url],
        env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(writers)]
    time.sleep(2.0)  # every writer imported and waiting
    go.touch()
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0 and out.strip() == "done", err
    expected = {f"a{i}" for i in range(5)} | {f"w{w}-{i}" for w in range(writers) for i in range(per_writer)}
    store = IndexStore.load(root)
    assert set(store.article_row) == expected
    assert engine.held() == {a.id: a.content_hash for a in store.articles}, "the engine lost or kept an article"
    assert engine.count() == len(store)


def test_a_collection_filled_with_other_settings_is_refused(tmp_path, hash_embedder, engine):
    write_collection(tmp_path / "a", make_articles(3), settings=SETTINGS, embedder=hash_embedder, progress=False,
                     backend=engine)
    other = IndexSettings(model="hash-64", chunk_tokens=48, chunk_overlap=8)
    write_collection(tmp_path / "b", make_articles(3), settings=other, embedder=hash_embedder, progress=False)
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        sync_live(engine, tmp_path / "b")
    with pytest.raises(IndexMismatchError, match=r"\?collection=NAME"):
        engine.searcher(IndexStore.load(tmp_path / "b"))


def test_an_engine_that_is_not_there_fails_with_one_clear_error(tmp_path, hash_embedder, monkeypatch):
    import index.milvus as milvus

    monkeypatch.setattr(milvus, "CONNECT_TIMEOUT", 2.0)
    write_collection(tmp_path / "idx", make_articles(2), settings=SETTINGS, embedder=hash_embedder, progress=False)
    backend = open_backend(f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(BackendError, match="Cannot reach the Milvus engine at http://127.0.0.1"):
        sync_live(backend, tmp_path / "idx")
    assert time.monotonic() - started < 20


def test_backend_urls_are_parsed_or_refused_clearly(tmp_path):
    from index.milvus import Target, filter_expression, parse_url

    assert parse_url("http://db:19530?collection=news_2&index=hnsw&shards=4") == Target("http://db:19530", "news_2",
                                                                                        "HNSW", 4)
    assert parse_url(f"milvus-lite://{tmp_path}/x.db") == Target(str(tmp_path / "x.db"))
    assert parse_url(str(tmp_path / "y.db")).uri == str(tmp_path / "y.db")
    for bad, says in (("http://db:19530?colection=x", "unknown option"), ("http://db?collection=1x", "collection"),
                      ("http://db?index=DISKANN", "index must be one of"), ("http://db?shards=0", "shards")):
        with pytest.raises(ValueError, match=says):
            parse_url(bad)
    with pytest.raises(ValueError, match="names no search backend"):
        open_backend("redis://localhost")
    assert isinstance(open_backend(None), LocalBackend)
    # Quotes in a source name cannot end the string literal early.
    expr = filter_expression(Filters(sources=('o"brien" or day > 0',)))
    assert expr == 'source in ["o\\"brien\\" or day > 0"]'


def test_an_assistant_asks_through_the_engine_and_eval_compares_the_two(tmp_path, milvus_url, capsys):
    """The real model and the sample: answers through the engine equal the folder's."""
    from eval.runner import main as eval_main
    from newsdesk.cli import build_parser
    from rag import Assistant

    url = f"{milvus_url}?collection=t_sample"
    local = Assistant.from_index(progress=False)
    engine = local.with_config(engine=url)
    try:
        for question in ("Who did Hasanov meet at IDEF 2025?", "What did the ECB decide about its deposit rate?"):
            a, b = local.ask(question), engine.ask(question)
            assert (a.text, [p.chunk_id for p in a.passages]) == (b.text, [p.chunk_id for p in b.passages])
        args = build_parser().parse_args(["eval", "--dataset", "sample", "--compare", "hybrid,hybrid+engine",
                                          "--backend-url", url, "--out", str(tmp_path / "out"), "--limit", "30"])
        eval_main(args)
        runs = {n: r["metrics"] for n, r in json.loads((tmp_path / "out" / "results.json").read_text())["runs"].items()}
        for metric in ("article_recall@10", "article_mrr@10", "answer_accuracy", "mc_accuracy"):
            assert runs["hybrid"][metric] == runs["hybrid+engine"][metric], metric
        bad = build_parser().parse_args(["eval", "--dataset", "sample", "--compare", "hybrid+engine"])
        with pytest.raises(ValueError, match="need a search engine"):
            eval_main(bad)
    finally:
        engine.backend.drop()
        engine.backend.close()


@pytest.mark.slow
def test_the_cli_builds_into_the_engine_and_answers_from_it(tmp_path, milvus_url, capsys):
    from newsdesk.cli import main

    url = f"{milvus_url}?collection=t_cli"
    src = tmp_path / "news.jsonl"
    src.write_text("\n".join(json.dumps(a) for a in [
        {"id": "ferry", "title": "Fano ferry goes electric", "date": "2025-03-02", "source": "example.com",
         "text": "The Fano ferry line switched to an electric ship on Sunday. The ship carries 400 passengers."},
        {"id": "bank", "title": "Central bank holds rates", "date": "2025-03-05", "source": "example.org",
         "text": "The central bank kept its deposit rate at 2 percent on Wednesday, citing slower inflation."},
    ]) + "\n")
    index = tmp_path / "idx"
    assert main(["index", "build", str(src), "--index", str(index), "--backend-url", url, "--quiet"]) == 0
    assert "Search engine updated: 2 articles added, 0 removed" in capsys.readouterr().out
    assert main(["ask", "How many passengers does the electric ferry carry?", "--index", str(index),
                 "--backend-url", url, "--json", "--as-of", "2025-04-01"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "400" in answer["text"] and answer["citations"][0]["article_id"] == "ferry"
    assert main(["index", "remove", "ferry", "--index", str(index), "--backend-url", url]) == 0
    assert "0 articles added, 1 removed" in capsys.readouterr().out
    backend = open_backend(url)
    assert set(backend.held()) == {"bank"}
    backend.drop()
    backend.close()
