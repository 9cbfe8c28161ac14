"""Sessions' private index copies are deleted however the server stops: Ctrl-C, SIGTERM, or
(at the next start) SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
    assistant = Assistant(IndexStore.load(root / "idx"), config=Config(index=settings, rerank=0),
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
    launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    def ready():
        print(session.workdir, flush=True)
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
def test_sigterm_deletes_the_sessions_private_copies(tmp_path, when):
    """Whether SIGTERM comes while serving or while the server is still being announced."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = child(SERVER, str(tmp_path), when, tmp=tmp)
    try:
        workdir = Path(server.stdout.readline().strip())
        assert workdir.parent.name.startswith(COPIES_PREFIX), server.stderr.read()
        if when == "serving":
            assert workdir.is_dir()
            server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0 and "stopped" in out, err
    assert not workdir.parent.exists()
    assert not list(tmp.glob(COPIES_PREFIX + "*"))


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
