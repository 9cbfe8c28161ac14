"""index/ray_embed.py: a build through a local Ray cluster gives the plain build's vectors, an
incremental add through Ray embeds only the new articles, and a wrong address or a missing Ray
fails at once with a clear message. One 2-worker cluster serves the module (it starts in seconds)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.build import _vectors_by_row, add_articles, write_collection
from index.errors import ClusterError
from index.load import load_articles
from index.store import IndexStore
from newsdesk.cli import main

pytest.importorskip("ray")
from index.ray_embed import INSTALL_HINT, RayEmbedder, _Worker  # noqa: E402 - after the skip

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parents[1] / "index" / "sample" / "articles.jsonl"


def test_an_unreachable_address_fails_fast_and_says_so():
    import ray

    assert not ray.is_initialized()  # runs before the module's cluster: the address is really tried
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match="No Ray cluster answers at '127.0.0.1:9'"):
        with RayEmbedder(address="127.0.0.1:9", connect_timeout=2) as embedder:
            embedder.load()
    assert time.perf_counter() - t0 < 10 and not ray.is_initialized()


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what ``import ray`` meets where it is not installed
    with pytest.raises(ClusterError, match=INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
        RayEmbedder().load()


def test_a_worker_without_the_model_reports_one_clear_error():
    worker = _Worker({"model": "/nonexistent/model", "device": None, "batch_size": 64, "max_seq_length": 256,
                      "backend": "onnx-int8"}, 1, None)
    message = worker.ready()
    assert "cannot load embedding model '/nonexistent/model'" in message
    assert "same newsdesk and model package" in message


@pytest.fixture(scope="module")
def ray_cluster():
    """One local 2-CPU cluster for the module; each test's RayEmbedder joins it (and so leaves
    it running), the way a build joins a cluster address."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _vectors(index_dir: Path) -> dict[tuple[str, int], np.ndarray]:
    """Stored vectors keyed by (article id, chunk number), comparable across indexes."""
    store = IndexStore.load(index_dir)
    by_row = _vectors_by_row(store.dense)
    out = {}
    for a in store.articles:
        for j, row in enumerate(store.chunk_rows(a.id)):
            if int(row) in by_row:
                out[a.id, j] = by_row[int(row)]
    return out


def test_ray_build_and_incremental_add_match_the_plain_build(tmp_path, ray_cluster):
    with RayEmbedder(address="local", workers=2) as ray_embedder:
        _build_and_add(tmp_path, ray_embedder)
    assert ray_cluster.is_initialized()  # joined, so left running
    deadline = time.monotonic() + 30  # and its CPUs freed: the next build's workers can start
    while ray_cluster.available_resources().get("CPU") != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray_cluster.available_resources().get("CPU") == 2


def _build_and_add(tmp_path: Path, ray_embedder: RayEmbedder) -> None:
    articles = load_articles(SAMPLE).articles
    first, later = articles[:40], articles[40:]
    plain, on_ray = tmp_path / "plain", tmp_path / "ray"

    write_collection(plain, first, progress=False)
    built = write_collection(on_ray, first, embedder=ray_embedder, progress=False)
    assert built.embedded_chunks == built.chunks > 0
    assert IndexStore.load(on_ray).manifest["build"]["embedding_backend"] == "onnx-int8"

    plain_add = add_articles(plain, later, progress=False)
    ray_add = add_articles(on_ray, later, embedder=ray_embedder, progress=False)
    want, got = _vectors(plain), _vectors(on_ray)
    new_ids = {a.id for a in later}
    new_chunks = sum(1 for article_id, _ in got if article_id in new_ids)  # those with a vector
    assert ray_add.added == len(later) and ray_add.embedded_chunks == plain_add.embedded_chunks == new_chunks
    assert ray_add.reused_chunks == built.embedded_chunks

    assert want.keys() == got.keys()
    cosines = np.array([float(want[k] @ got[k]) for k in want])
    assert cosines.min() >= 0.999, f"min cosine {cosines.min():.5f}"


def test_the_cli_builds_and_adds_on_ray(tmp_path, ray_cluster, capsys):
    """``--ray-address`` on ``index build`` and ``index add``; the fixture's cluster is joined,
    and left running for the fixture to stop."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(lines[3] + "\n", encoding="utf-8")
    index_dir = str(tmp_path / "index")
    for action, path in (("build", "a.jsonl"), ("add", "b.jsonl")):
        assert main(["index", action, str(tmp_path / path), "--index", index_dir, "--quiet",
                     "--ray-address", "local", "--ray-workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 added" in out and "1 added, 0 replaced, 0 removed, 3 unchanged" in out
    assert ray_cluster.is_initialized()
    assert IndexStore.load(index_dir).manifest["build"]["embedding_backend"] == "onnx-int8"
