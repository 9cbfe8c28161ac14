"""``newsdesk`` start-up: errors that need nothing loaded come before anything loads, the query
path imports no PyTorch, a closed pipe ends quietly, and ``--version`` works.

Each command runs in its own Python process (what a user's shell starts), so what it imported is
what a cold start pays for. No timings are asserted here: ``benchmarks/cold_start.py`` measures them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from newsdesk.cli import main

ROOT = Path(__file__).resolve().parents[1]
# Seconds to import each, measured on the 2-core dev machine: torch and sentence-transformers
# 2-5, Gradio 3-10, the search stack (rag.assistant: BM25, FAISS) about 1.
HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "rag.assistant", "faiss", "bm25s", "lightgbm",
         "datasketch")
# Runs the command line as the `newsdesk` script does, then prints the heavy modules it imported.
RUN = ("import sys; from newsdesk.cli import main; code = main(sys.argv[1:]); "
       f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules)); sys.exit(code)")


def _newsdesk(*args: str, env: dict | None = None) -> tuple[int, str, list[str]]:
    """(exit status, stderr, the heavy modules imported) of ``newsdesk ARGS`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)
    return done.returncode, done.stderr, done.stdout.split()


def test_the_parser_imports_nothing_heavy() -> None:
    """``--help`` and every early error pay only for the parser: the eval variants in its help
    come from rag.config without loading the search stack."""
    code = ("import sys; from newsdesk.cli import build_parser; build_parser(); "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


def test_a_busy_port_is_one_line_before_anything_loads(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The index does not exist either: had it been opened first, that error would come instead.
        code, err, loaded = _newsdesk("serve", "--port", str(port), "--index", str(tmp_path / "no-index"))
    assert code == 2
    assert err.strip().splitlines() == [f"error: port {port} on 127.0.0.1 is already in use; choose another with "
                                        "--port (or stop what is serving there)"]
    assert loaded == []  # neither Gradio nor the collection nor a model


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read it"),
    ("no colon here\n", "USER:PASS"),
])
def test_a_bad_auth_file_is_one_line_before_anything_loads(tmp_path: Path, content: str | None, says: str) -> None:
    secret = tmp_path / "login"
    if content is not None:
        secret.write_text(content)
        secret.chmod(0o600)
    with socket.socket() as probe:  # a port that is free
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, err, loaded = _newsdesk("serve", "--port", str(port), "--auth-file", str(secret),
                                  "--index", str(tmp_path / "no-index"), env={"NEWSDESK_AUTH": ""})
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: --auth-file {secret}") and says in lines[0], lines[0]
    assert loaded == []


def test_version_comes_from_the_package_metadata(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"newsdesk {version('newsdesk')}"


OPEN = """
import sys
from index.settings import IndexSettings
from rag import Assistant, Config
Assistant.from_index(sys.argv[1], config=Config(index=IndexSettings(model="hash-64", chunk_tokens=32,
                                                                     chunk_overlap=8)), progress=False)
print(" ".join(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_opening_an_index_imports_only_what_a_question_needs(tmp_path: Path) -> None:
    """``Assistant.from_index`` (the reader, follow-up and IDF models included) imports neither
    the model stack nor what only writes need: LightGBM and scikit-learn (the trees run on NumPy),
    MinHash (SciPy), the file readers (feeds, web archives)."""
    from index.build import write_collection
    from index.settings import IndexSettings
    from tests.conftest import HashEmbedder, make_articles

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    write_collection(tmp_path / "idx", make_articles(5), settings=settings, embedder=HashEmbedder(), progress=False)
    unwanted = ["torch", "sentence_transformers", "transformers", "lightgbm", "sklearn", "datasketch", "index.load",
                "index.build", "feedparser", "warcio", "gradio"]
    done = subprocess.run([sys.executable, "-c", OPEN, str(tmp_path / "idx"), *unwanted], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


@pytest.mark.slow
def test_a_cold_ask_imports_no_pytorch_and_no_lightgbm(sample_assistant) -> None:
    """The sample's index and int8 export exist (the fixture made them); on a CPU the ONNX runtime
    serves the embeddings, so ``ask`` never imports torch, sentence-transformers or transformers,
    and the reader's trees run on NumPy (rag/trees.py), not LightGBM (which imports scikit-learn)."""
    from index.embed import gpu_possible

    if gpu_possible():
        pytest.skip("this machine's torch could reach a GPU: the embedder asks torch, as it should")
    code, err, loaded = _newsdesk("ask", "Who did Hasanov meet at IDEF 2025?")
    assert code == 0, err
    assert not {"torch", "sentence_transformers", "transformers", "lightgbm"} & set(loaded), loaded


@pytest.mark.slow
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(sample_assistant) -> None:
    """``newsdesk ask ... | head -3``: the pipe is closed before the answer is written."""
    proc = subprocess.Popen([sys.executable, "-m", "newsdesk.cli", "ask", "Who did Hasanov meet at IDEF 2025?",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 141, err  # as a command killed by SIGPIPE
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
