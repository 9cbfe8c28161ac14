"""Tests for newsdesk.local_llm: the llama.cpp server that --llm-gguf starts, and its clear errors.

The errors are checked everywhere; starting a real server needs xllamacpp
(``pip install -e '.[local-llm]'``), and answering with it the model (tests/test_real_llm.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from newsdesk import local_llm
from newsdesk.cli import main
from newsdesk.local_llm import LocalLLMServer, LocalServerError, check_gguf, missing_modules

ROOT = Path(__file__).resolve().parents[1]
needs_llama = pytest.mark.skipif(bool(missing_modules()),
                                 reason="xllamacpp is not installed (pip install -e '.[local-llm]')")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(LocalServerError, match=f"no model file at {tmp_path / 'm.gguf'}"):
        check_gguf(tmp_path / "m.gguf")


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(LocalServerError, match="is not a GGUF model file"):
        check_gguf(path)


def test_the_server_needs_only_the_xllamacpp_wheel():
    assert local_llm.SERVER_MODULES == ("xllamacpp",)
    assert f"xllamacpp=={local_llm.XLLAMACPP_VERSION}" in Path(ROOT / "pyproject.toml").read_text()


def test_a_missing_xllamacpp_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(local_llm, "SERVER_MODULES", ("no_such_module_for_newsdesk",))
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    with pytest.raises(LocalServerError) as caught:
        LocalLLMServer(path).start()
    assert "no_such_module_for_newsdesk" in str(caught.value)
    assert f"pip install xllamacpp=={local_llm.XLLAMACPP_VERSION}" in str(caught.value)
    # From the command line: one error line, before the collection is opened.
    monkeypatch.setattr(local_llm, "SERVER_MODULES", ("xllamacpp", "no_such_module_for_newsdesk"))
    assert main(["ask", "--llm-gguf", str(path), "Who did Hasanov meet at IDEF 2025?"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --llm-gguf needs the no_such_module_for_newsdesk package") and err.count("\n") == 1
    assert "pip install xllamacpp==" in err and "llama-cpp-python" not in err


@needs_llama
def test_a_missing_model_file_from_the_command_line_is_one_error_line(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["ask", "--llm-gguf", str(tmp_path / "none.gguf"), "Who did Hasanov meet at IDEF 2025?"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no model file at {tmp_path / 'none.gguf'}") and err.count("\n") == 1
    assert time.perf_counter() - started < 10


def test_settings_are_checked_at_construction(tmp_path):
    with pytest.raises(ValueError, match="context"):
        LocalLLMServer(tmp_path / "m.gguf", context=100)
    with pytest.raises(ValueError, match="start_timeout"):
        LocalLLMServer(tmp_path / "m.gguf", start_timeout=0)
    server = LocalLLMServer(tmp_path / "qwen-small.gguf", port=8391, threads=2)
    assert server.model == "qwen-small" and server.base_url == "http://127.0.0.1:8391/v1"
    command = server.command()
    assert command[1] == "-c" and "import xllamacpp" in command[2] and "import rag" not in command[2]
    assert command[3:] == [str(tmp_path / "qwen-small.gguf"), "127.0.0.1", "8391", "8192", "2", "qwen-small"]
    # Half the cores by default: llama.cpp's threads wait for each other on a busy CPU.
    assert LocalLLMServer(tmp_path / "m.gguf").threads == max(1, (os.cpu_count() or 2) // 2)


@needs_llama
def test_a_server_that_dies_while_loading_is_reported_with_its_log(tmp_path):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)  # the magic, then nothing a loader can read
    lines: list[str] = []
    server = LocalLLMServer(path, progress=lines.append, start_timeout=120)
    with pytest.raises(LocalServerError, match="exited with status") as caught:
        server.start()
    assert "broken.gguf" in str(caught.value)
    assert "failed to load model" in str(caught.value)  # llama.cpp's own reason, from the server's log
    assert lines[0].startswith("Starting the local model: llama.cpp with broken.gguf")
    assert not server.running and server._log is None
