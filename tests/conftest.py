"""Shared fixtures: a tiny deterministic embedder for storage/fusion unit tests, and the
real bundled model + sample collection for end-to-end tests (built once per session)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from index.records import Article


class HashEmbedder:
    """Bag-of-words hashed into 64 dimensions: deterministic, instant, no model files.
    Good enough to test storage and incremental logic, never answer quality."""

    name = "hash-64"
    dimension = 64
    resolved_backend = "hash"

    def load(self) -> None:  # the build loads the embedder before timing
        pass

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


def make_articles(n: int = 5) -> list[Article]:
    topics = ["harbour bridge opens", "central bank raises rates", "marathon record falls",
              "museum reopens doors", "wildfire forces evacuations", "chess final drawn", "ferry goes electric"]
    return [
        Article(id=f"a{i}", title=f"Story {i}: {topics[i % len(topics)]}",
                text=f"This is story number {i}. The {topics[i % len(topics)]} today. " * 3,
                url=f"https://example.com/2025/01/{i + 1:02d}/story-{i}", source="example.com")
        for i in range(n)
    ]


@pytest.fixture(scope="session")
def sample_assistant(tmp_path_factory):
    """The real assistant over the bundled sample collection (real model, real index)."""
    cache = tmp_path_factory.mktemp("newsdesk-cache")
    old = os.environ.get("NEWSDESK_CACHE_DIR")
    os.environ["NEWSDESK_CACHE_DIR"] = str(cache)
    from rag import Assistant

    assistant = Assistant.from_index(progress=False)
    yield assistant
    if old is None:
        os.environ.pop("NEWSDESK_CACHE_DIR", None)
    else:
        os.environ["NEWSDESK_CACHE_DIR"] = old



# Lines a test wants shown in the run's output without -s (e.g. how many concurrent-writer
# trials passed); printed in pytest's terminal summary.
_SUMMARY = pytest.StashKey[list]()


@pytest.fixture
def summary(request) -> list[str]:  # noqa: ANN001 - pytest's request type
    return request.config.stash.setdefault(_SUMMARY, [])


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's reporter type
    for line in terminalreporter.config.stash.get(_SUMMARY, []):
        terminalreporter.write_line(line)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def milvus_url(tmp_path_factory):
    """A real Milvus engine (Milvus Lite 2.5's C++ server) on a free local port, reached over
    gRPC as a Milvus cluster is; for the session (tests use their own collections)."""
    server = pytest.importorskip("milvus_lite.server")
    folder = tmp_path_factory.mktemp("milvus")
    port = free_port()
    binary = Path(server.Server(str(folder / "engine.db")).milvus_bin)
    env = {**os.environ, "LD_LIBRARY_PATH": f"{binary.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    proc = subprocess.Popen([str(binary), str(folder / "engine.db"), f"127.0.0.1:{port}", "ERROR"], env=env,
                            cwd=folder)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert proc.poll() is None, "the Milvus engine exited at start"
        assert time.monotonic() < deadline, "the Milvus engine did not listen within 60 s"
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def rewrite_manifest(root: Path, change) -> Path:  # noqa: ANN001 - change: dict -> dict | list | bytes
    """Replace the manifest of the index at ``root``'s live version with ``change(manifest)``, as a
    writer would have written it: the version folder is renamed after the new manifest's SHA-256
    (index/store.py) and ``CURRENT`` switched to it, so only what ``change`` did is damage. Returns
    the renamed version folder."""
    import json

    from index import store

    version = store.current_version(Path(root))
    changed = change(json.loads((version / store.MANIFEST).read_text()))
    data = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
    (version / store.MANIFEST).write_bytes(data)
    resealed = version.with_name(store.sealed_name(version.name, data))
    version.rename(resealed)
    (Path(root) / store.POINTER).write_text(resealed.name + "\n")
    return resealed
