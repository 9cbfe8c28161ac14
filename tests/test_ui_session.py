"""Sessions' private index copies and uploads are deleted however the server stops: Ctrl-C,
SIGTERM, or (at the next start) SIGKILL; uploads once indexed; idle sessions expire and live
ones are capped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from index.build import write_collection
from index.settings import IndexSettings
from index.store import IndexStore
from rag import Assistant
from rag.config import Config
from tests.conftest import HashEmbedder, free_port, make_articles
from ui.session import ALIVE, COPIES_PREFIX, Workspace, remove_dead_copies

ROOT = Path(__file__).resolve().parents[1]

# A server with one private copy, serving until signalled (as `newsdesk serve` does).
SERVER = textwrap.dedent("""
    import socket, sys
    from pathlib import Path
    from index.build import write_collection
    from index.settings import IndexSettings
    from index.store import IndexStore
    from rag import Assistant
    from rag.config import Config
    from tests.conftest import HashEmbedder, make_articles
    from ui.app import build_app, launch, serve_until_stopped
    from ui.session import Session, Workspace

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    root = Path(sys.argv[1])
    write_collection(root / "idx", make_articles(3), settings=settings, embedder=HashEmbedder(), progress=False)
    assistant = Assistant(IndexStore.load(root / "idx"), config=Config(index=settings, rerank={"articles": 0}),
                          embedder=HashEmbedder())
    workspace = Workspace(assistant, private_uploads=True)
    upload = root / "up.jsonl"
    upload.write_text('{"id": "u1", "title": "Upload", "text": "An uploaded article about trams."}\\n')
    session = Session()
    workspace.add_articles(session, [upload])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(assistant, workspace=workspace)
    url = launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    import httpx  # an upload that no event takes (a bare POST to Gradio's upload route)
    orphan = httpx.post(f"{url}gradio_api/upload", files={"files": ("orphan.jsonl", b"{}")}).json()[0]
    def ready():
        print(session.workdir, flush=True)
        print(orphan, flush=True)
        if sys.argv[2:] == ["early"]:  # the stop arrives while the server is being announced
            import os, signal, time
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

    serve_until_stopped(demo, workspace, ready=ready)
    print("stopped", flush=True)
""")

# Makes a private-copy folder, then waits to be killed.
DYING = textwrap.dedent("""
    import time
    from ui.session import Workspace
    print(Workspace(None, private_uploads=True)._new_dir().parent, flush=True)
    time.sleep(60)
""")


def child(script: str, *args: str, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("when", ["serving", "early"])
def test_sigterm_deletes_the_sessions_private_copies_and_uploads(tmp_path, when):
    """Whether SIGTERM comes while serving or while the server is still being announced."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = child(SERVER, str(tmp_path), when, tmp=tmp)
    try:
        workdir = Path(server.stdout.readline().strip())
        assert workdir.parent.name.startswith(COPIES_PREFIX), server.stderr.read()
        orphan = Path(server.stdout.readline().strip())
        assert orphan.is_relative_to(tmp), orphan
        if when == "serving":
            assert workdir.is_dir() and orphan.is_file()
            server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0 and "stopped" in out, err
    assert not workdir.parent.exists()
    assert not list(tmp.glob(COPIES_PREFIX + "*"))
    assert not orphan.exists()


def test_start_up_removes_what_killed_servers_left_and_nothing_else(tmp_path, monkeypatch):
    import tempfile

    dying = child(DYING, tmp=tmp_path)
    dead = Path(dying.stdout.readline().strip())
    dying.send_signal(signal.SIGKILL)
    dying.wait(timeout=30)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = Workspace(None, private_uploads=True)
    live_dir = live._new_dir().parent
    older = tmp_path / f"{COPIES_PREFIX}old"  # made by a Newsdesk without ALIVE files: not ours to judge
    older.mkdir()
    (tmp_path / f"{COPIES_PREFIX}stray").write_text("a file, not a folder")
    try:
        assert dead.is_dir() and (dead / ALIVE).is_file()
        assert remove_dead_copies() == [dead]
        assert not dead.exists() and live_dir.is_dir() and older.is_dir()
    finally:
        live.close()
    assert not live_dir.exists()
    assert remove_dead_copies() == []


SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
QUOTA_KB = 100


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def small_server(tmp_path):
    """A served app with private uploads, two sessions at most, a 60 s idle limit on an
    injected clock, and a 100 KB upload quota per session."""
    from ui.app import build_app, launch

    write_collection(tmp_path / "idx", make_articles(3), settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    assistant = Assistant(IndexStore.load(tmp_path / "idx"), config=Config(index=SETTINGS, rerank={"articles": 0}),
                          embedder=HashEmbedder())
    clock = Clock()
    workspace = Workspace(assistant, private_uploads=True, root=tmp_path / "copies", idle_s=60, max_sessions=2,
                          upload_quota_bytes=QUOTA_KB * 1024, clock=clock)
    demo = build_app(assistant, workspace=workspace)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url, workspace, clock, demo
    demo.close()
    workspace.close()


def article_file(folder: Path, name: str, words: int = 200) -> Path:
    """A JSONL file of one article, named uniquely so that it can be looked for in Gradio's folder."""
    path = folder / f"{name}-{uuid.uuid4().hex[:8]}.jsonl"
    text = " ".join(f"tram{i % 50} line opened" for i in range(words))
    path.write_text(json.dumps({"id": path.stem, "title": f"Trams {name}", "text": text}) + "\n")
    return path


def in_upload_folder(name: str) -> list[Path]:
    from gradio.utils import get_upload_folder

    return list(Path(get_upload_folder()).glob(f"*/{name}"))


def test_uploads_are_deleted_once_indexed_or_refused_and_a_session_has_a_quota(small_server, tmp_path):
    from gradio_client import Client, handle_file

    url, workspace, _, _ = small_server
    client = Client(url, verbose=False)
    first = article_file(tmp_path, "first", words=2000)  # about 45 KB
    status, *_ = client.predict([handle_file(str(first))], api_name="/upload")
    assert "Indexed 1 new article" in status and first.stat().st_size < QUOTA_KB * 1024, status
    assert in_upload_folder(first.name) == []  # indexed, then deleted
    second = article_file(tmp_path, "second", words=4000)  # over the quota with the first
    status, *_ = client.predict([handle_file(str(second))], api_name="/upload")
    assert f"the limit is {QUOTA_KB} KB per session" in status, status
    assert in_upload_folder(second.name) == []  # refused, and deleted too
    small = article_file(tmp_path, "small", words=10)  # still fits
    status, *_ = client.predict([handle_file(str(small))], api_name="/upload")
    assert "limit" not in status and in_upload_folder(small.name) == [], status


def test_sessions_are_capped_and_idle_ones_expire_with_their_files(small_server, tmp_path):
    from gradio_client import Client, handle_file

    url, workspace, clock, demo = small_server
    copies = tmp_path / "copies"
    first, second, third = (Client(url, verbose=False) for _ in range(3))
    first.predict([handle_file(str(article_file(tmp_path, "one")))], api_name="/upload")
    assert len(list(copies.glob("session-*"))) == 1  # the first session's private copy
    clock.now += 10
    second.predict("Which bridge opened?", api_name="/chat")
    clock.now += 10
    third.predict("Which bridge opened?", api_name="/chat")  # a third: the least recently used closes
    assert workspace.live_sessions == 2
    assert list(copies.glob("session-*")) == []
    assert first.session_hash not in demo.state_holder.session_data  # Gradio's copy of its state too
    chat, *_ = first.predict("Which bridge opened?", api_name="/chat")  # comes back as a new session
    assert len(chat) == 2 and workspace.live_sessions == 2
    clock.now += 61
    workspace.expire()
    assert workspace.live_sessions == 0
    assert not {c.session_hash for c in (first, second, third)} & set(demo.state_holder.session_data)


def test_a_new_session_is_refused_clearly_when_every_live_one_is_busy(tmp_path):
    from ui.session import Session, SessionLimitError

    workspace = Workspace(None, private_uploads=True, root=tmp_path, max_sessions=2)
    busy = [workspace.enter(None) for _ in range(2)]
    for session in busy:
        session.lock.acquire()
    with pytest.raises(SessionLimitError, match="limit of 2 sessions"):
        workspace.enter(Session())
    busy[0].lock.release()
    workspace.enter(None)  # the idle one makes room
    assert workspace.live_sessions == 2 and busy[0].closed and not busy[1].closed
    workspace.close()


def test_an_upload_no_event_takes_is_deleted_after_its_age(tmp_path):
    """A bare POST to Gradio's upload route (nothing indexes it) is deleted once older than the
    app's upload age (here 1 s; the default is 30 minutes)."""
    import time

    import httpx

    from ui.app import build_app, launch

    write_collection(tmp_path / "idx", make_articles(3), settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    assistant = Assistant(IndexStore.load(tmp_path / "idx"), config=Config(index=SETTINGS, rerank={"articles": 0}),
                          embedder=HashEmbedder())
    demo = build_app(assistant, private_uploads=False, upload_max_age_s=1)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        name = f"orphan-{uuid.uuid4().hex[:8]}.jsonl"
        saved = Path(httpx.post(f"{url}gradio_api/upload", files={"files": (name, b"{}")}, timeout=60).json()[0])
        assert saved.is_file()
        deadline = time.monotonic() + 60  # a generous bound: the sweep runs every second here
        while saved.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not saved.exists()
    finally:
        demo.close()
