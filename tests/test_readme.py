"""The README's snippets and example commands, run as written (placeholders filled in).

What is not run here: the install commands (CI runs them: ``.ci/run``), the CPU-torch install
(it needs PyTorch's own index) and ``newsdesk train-reader`` (``tests/test_train_reader.py``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from newsdesk.cli import main
from tests.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)
NOT_RUN_HERE = ("pip install", "train-reader", "pytest")


def _run(code: str) -> tuple[dict, str]:
    out, namespace = io.StringIO(), {"__name__": "readme"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own snippet
    return namespace, out.getvalue()


def test_the_readme_is_a_ten_minute_read() -> None:
    assert len(README.encode()) < 15_000
    assert (ROOT / "docs" / "screenshot.png").is_file()
    for link in re.findall(r"\]\(((?:docs/)?[\w./-]+\.(?:md|png))(?:#[\w-]+)?\)", README):
        assert (ROOT / link).is_file(), f"the README links to {link}, which is missing"


def test_the_offline_python_snippets_run(sample_assistant) -> None:
    snippets = [code for lang, code in BLOCKS if lang == "python" and "gradio_client" not in code]
    assert len(snippets) == 2
    for code in snippets:
        namespace, printed = _run(code)
        assert printed.strip() and "[1]" in printed, printed
        assert not namespace["assistant"].ask("Who did Hasanov meet at IDEF 2025?").abstained


def test_the_gradio_client_snippet_runs_and_its_filter_example_answers(sample_assistant) -> None:
    from ui.app import build_app, launch

    (code,) = [code for lang, code in BLOCKS if lang == "python" and "gradio_client" in code]
    demo = build_app(sample_assistant)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        namespace, printed = _run(code.replace("http://127.0.0.1:7860/", url))
    finally:
        demo.close()
    assert "Görgün" in printed and "Hasanov" in namespace["follow"]["query"]
    july = namespace["july"]
    assert not july["abstained"] and "Görgün" in july["text"], july["text"]
    assert july["citations"][0]["article_id"] == "idef-2025-hasanov-gorgun"
    assert all(p["source"] == "azernews.az" and "2025-07-01" <= p["date"] <= "2025-07-31" for p in july["passages"])
    assert 1 <= len(july["passages"]) <= 5


def test_the_example_session_prints_what_the_readme_shows(sample_assistant, capsys) -> None:
    (session,) = [code for lang, code in BLOCKS if code.startswith("$ newsdesk ask")]
    for command, shown in re.findall(r"^\$ (newsdesk .*)\n((?:(?!\$ ).*\n)*)", session, re.M):
        assert main(shlex.split(command)[1:]) == 0
        printed = capsys.readouterr().out
        for line in shown.strip().splitlines():
            for piece in filter(None, (p.strip() for p in line.split("..."))):
                assert piece in printed, f"{command!r} no longer prints {piece!r}:\n{printed}"


def _commands() -> list[str]:
    (block,) = [code for lang, code in BLOCKS if lang == "bash" and "newsdesk index restore" in code]
    joined = block.replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.startswith("newsdesk")]


def test_the_command_line_block_runs(sample_assistant, tmp_path, capsys) -> None:
    """Each command with its placeholders filled in, the bracketed options left out, then each
    bracketed option's flag checked against the command's own --help."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text(
        '{"id": "p1", "title": "Harbour bridge opens", "text": "The Portvale harbour bridge opened on Sunday."}\n'
        '{"id": "p2", "title": "Museum reopens", "text": "The Portvale museum reopened with a whale skeleton."}\n')
    fill = {"PATH...": str(src), "DIR": str(tmp_path / "idx"), "ID...": "p1",
            "sample|conversations|PATH": "conversations"}
    ran = []
    for command in _commands():
        words = shlex.split(re.sub(r"\s*\[.*", "", command))
        if any(skip in command for skip in NOT_RUN_HERE) or words[1] == "serve":
            continue  # serve: test_newsdesk_serve_as_the_readme_starts_it
        args = [fill.get(w, w) for w in words[1:]]
        if args[0] == "eval":
            args += ["--limit", "2", "--out", str(tmp_path / "eval-out")]
        with contextlib.redirect_stdout(io.StringIO()):
            if args[0] == "chat":
                sys.stdin, stdin = io.StringIO("Who did Hasanov meet at IDEF 2025?\n\n"), sys.stdin
                try:
                    assert main(args) == 0
                finally:
                    sys.stdin = stdin
            else:
                assert main(args) == 0, (command, capsys.readouterr().err)
        name = args[:2] if args[0] == "index" else args[:1]
        ran.append(" ".join(name))
        for flag in re.findall(r"\[(--[\w-]+)", command):
            with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as shown:
                main([*name, "--help"])
            assert flag in shown.getvalue(), f"{command!r}: {flag} is not an option"
    assert ran == ["index build", "index add", "index remove", "index restore", "ask", "chat", "eval"]


def test_newsdesk_serve_as_the_readme_starts_it(sample_assistant) -> None:
    (command,) = [c for c in _commands() if c.startswith("newsdesk serve")]
    words = shlex.split(re.sub(r"\s*\[.*", "", command))
    port, said = _serve(words[1:])
    assert f"http://127.0.0.1:{port}" in said, said


def _serve(args: list[str]) -> tuple[int, str]:
    """Start ``newsdesk ARGS --port FREE``, stop it once it says it is serving; the port and
    what it wrote to stderr until then."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "newsdesk.cli", *args, "--port", str(port)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "is serving on" in line:
                break
        return port, "".join(lines)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def test_the_engine_block_runs(sample_assistant, milvus_url, tmp_path) -> None:
    """"Past one machine": the build into Milvus Lite with Ray embedding, the eval comparing the
    two backends, and serve against a Milvus server (the one the tests start)."""
    (block,) = [code for lang, code in BLOCKS if lang == "bash" and "hybrid+engine" in code]
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text(
        '{"id": "p1", "title": "Harbour bridge opens", "text": "The Portvale harbour bridge opened on Sunday."}\n')
    fill = {"PATH...": str(src), "DIR": str(tmp_path / "idx"),
            "milvus-lite:///PATH/newsdesk.db": f"milvus-lite://{tmp_path}/engine/newsdesk.db",
            "http://HOST:19530": f"{milvus_url}?collection=readme"}
    ran = []
    for command in block.replace("\\\n", " ").splitlines():
        if not command.startswith("newsdesk"):
            continue
        args = [fill.get(w, w) for w in shlex.split(command.split("  #")[0])[1:]]
        if args[0] == "serve":  # the server fills the engine's collection when it starts
            _, said = _serve(args)
            assert "Search engine updated: 1 article added" in said, said
        else:
            if args[0] == "eval":
                args += ["--limit", "3", "--out", str(tmp_path / "eval-out")]
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(args) == 0, command
        ran.append(args[0])
    assert ran == ["index", "eval", "serve"]


# ---- the README's words against the code ------------------------------------------------------

def _documented_calls() -> list[str]:
    """The ``name(...)`` signatures in the first column of the README's table of Assistant calls."""
    (table,) = [m for m in re.findall(r"^\| call \| returns \|\n((?:\|.*\n)+)", README, re.M)]
    return [call for row in table.splitlines()[1:] for call in re.findall(r"`(\w+\([^`]*\))`", row.split(" | ")[0])]


def test_the_documented_signatures_are_the_codes() -> None:
    """Each documented parameter has the code's name, kind (before or after ``*``) and default; a
    signature without ``...`` leaves out only optional keyword parameters (``wait``, ``progress``)."""
    import ast
    import inspect

    from rag import Assistant

    calls = _documented_calls()
    assert {c.split("(")[0] for c in calls} >= {"search", "ask", "stream", "choose", "timeline", "add_articles"}
    kinds = inspect.Parameter
    for call in calls:
        name, _, args = call[:-1].partition("(")
        params = [p for p in inspect.signature(getattr(Assistant, name)).parameters.values() if p.name != "self"]
        keyword_only, shown = False, []
        for token in (t.strip() for t in args.split(",") if t.strip()):
            if token.startswith("..."):
                break
            if token == "*":
                keyword_only = True
                continue
            arg, eq, default = token.partition("=")
            shown.append(arg)
            code = {p.name.lstrip("*"): p for p in params}.get(arg.lstrip("*"))
            assert code is not None, f"README: {name}() has no parameter {arg!r}; the code's: {params}"
            if arg.startswith("**"):
                assert code.kind is kinds.VAR_KEYWORD, call
                continue
            expected = kinds.KEYWORD_ONLY if keyword_only else kinds.POSITIONAL_OR_KEYWORD
            assert code.kind is expected, f"README: {name}({arg}) is shown {expected}, the code has {code.kind}"
            if eq:
                assert code.default == ast.literal_eval(default), \
                    f"README: {name}({token}), the code's default is {code.default!r}"
            else:
                assert code.default is inspect.Parameter.empty, f"README: {name}({arg}) has a default in the code"
        else:  # no "...": shown in the code's order, and only optional keywords left out
            named = [("**" if p.kind is kinds.VAR_KEYWORD else "") + p.name for p in params]
            assert shown == [n for n in named if n in shown], call
            left_out = [p for p in params if p.name not in shown and "**" + p.name not in shown]
            assert all(p.kind is kinds.KEYWORD_ONLY and p.default is not p.empty for p in left_out), call


def test_this_week_in_a_question_is_described_as_the_default_config_does_it() -> None:
    from rag import Config

    (sentence,) = re.findall(r"[^.]*\"this\s+week\"[^.]*\.", README)
    if Config().retrieve.date_window:
        assert "date_window" not in sentence, sentence
    else:  # off by default: the README must say how to turn it on
        assert 'retrieve={"date_window": True}' in sentence, sentence


def test_the_torch_install_notes_are_true() -> None:
    """The README's size of the CPU build is the installed one's (when a CPU build is installed),
    and pyproject.toml does not call the PyPI pin a CPU build: from PyPI on Linux it is CUDA's."""
    from importlib.metadata import version
    from importlib.util import find_spec

    said = re.search(r"CPU one\s+\(about ([\d,]+) MB\)", README)
    assert said, "the README no longer says how big the CPU build is"
    spec = find_spec("torch")
    if spec is not None and "+cpu" in version("torch"):
        folder = Path(next(iter(spec.submodule_search_locations)))
        size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
        assert abs(size_mb - int(said[1].replace(",", ""))) < 0.15 * size_mb, f"installed: {size_mb:.0f} MB"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert not re.search(r"torch[^\n]*\bis a CPU build", pyproject)
