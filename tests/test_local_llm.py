"""Tests for rag.local_llm: the llama.cpp server that --llm-gguf starts, and its clear errors.

The errors are checked everywhere; starting a real server needs ``llama-cpp-python[server]``
(``pip install -e '.[local-llm]'``), and answering with it the model (tests/test_real_llm.py).
"""

from __future__ import annotations

import time

import pytest

from newsdesk.cli import main
from rag import local_llm
from rag.local_llm import LocalLLMServer, LocalServerError, check_gguf, missing_modules

needs_llama = pytest.mark.skipif(bool(missing_modules()),
                                 reason="llama-cpp-python[server] is not installed (pip install -e '.[local-llm]')")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(LocalServerError, match=f"no model file at {tmp_path / 'm.gguf'}"):
        check_gguf(tmp_path / "m.gguf")


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(LocalServerError, match="is not a GGUF model file"):
        check_gguf(path)


def test_a_missing_package_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(local_llm, "SERVER_MODULES", ("llama_cpp", "no_such_module_for_newsdesk"))
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    with pytest.raises(LocalServerError) as caught:
        LocalLLMServer(path).start()
    assert "no_such_module_for_newsdesk" in str(caught.value) and "pip install -e '.[local-llm]'" in str(caught.value)
    # From the command line: one error line, before the collection is opened.
    assert main(["ask", "--llm-gguf", str(path), "Who did Hasanov meet at IDEF 2025?"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --llm-gguf needs llama-cpp-python") and err.count("\n") == 1


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
    assert server.command()[1:3] == ["-m", "llama_cpp.server"] and "--n_ctx" in server.command()


@needs_llama
def test_a_server_that_dies_while_loading_is_reported_with_its_log(tmp_path):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)  # the magic, then nothing a loader can read
    lines: list[str] = []
    server = LocalLLMServer(path, progress=lines.append, start_timeout=120)
    with pytest.raises(LocalServerError, match="exited with status") as caught:
        server.start()
    assert "broken.gguf" in str(caught.value) and "\n" in str(caught.value)  # the server's last log lines
    assert lines[0].startswith("Starting the local model: llama.cpp with broken.gguf")
    assert not server.running and server._log is None
