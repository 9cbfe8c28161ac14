"""The ``newsdesk`` command line, run in-process on the real sample collection."""

import json

import pytest

from newsdesk.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _cache(sample_assistant):
    """Reuse the session's sample index (NEWSDESK_CACHE_DIR is set by the fixture)."""


def test_ask_prints_cited_answer(capsys):
    assert main(["ask", "Who did Hasanov meet at IDEF 2025?"]) == 0
    out = capsys.readouterr().out
    assert "Görgün" in out and "[1]" in out
    assert "Sources:" in out and "IDEF 2025" in out and "https://www.azernews.az/" in out


def test_ask_json(capsys):
    assert main(["ask", "Who did Hasanov meet at IDEF 2025?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"question", "text", "citations", "passages", "abstained", "warnings", "query"}
    assert "Görgün" in data["text"] and not data["abstained"]
    assert data["citations"][0]["number"] == 1 and data["citations"][0]["date"] == "2025-07-23"


def test_ask_prints_and_returns_reports_that_differ(capsys):
    question = "How many councillors voted for the Ballyhoura greenway?"
    assert main(["ask", question]) == 0
    out = capsys.readouterr().out
    assert "Reports differ: 31 according to corkcountynews.ie (11 Feb 2025) [1]; 29 according to avondhupress.ie" in out
    assert "[2] Greenway through Ballyhoura gets the green light" in out  # the other side's source is listed
    assert main(["ask", question, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["disagreement"]["kind"] == "conflict"
    assert [r["value"] for r in data["disagreement"]["reports"]] == ["31", "29"]
    assert main(["ask", question, "--json", "--no-conflicts"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["disagreement"] is None and "Reports differ" not in data["text"]


def test_abstains_with_exit_zero(capsys):
    assert main(["ask", "Who won the 2031 Eurovision Song Contest?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] and data["citations"] == []


def test_bad_date_is_a_clear_error(capsys):
    assert main(["ask", "Who did Hasanov meet?", "--as-of", "last tuesday"]) == 2
    assert "--as-of must be a date" in capsys.readouterr().err  # the flag as typed, not the parameter
    assert main(["ask", "Who did Hasanov meet?", "--since", "2025-13-45"]) == 2
    assert "error: --since must be a date like 2025-07-23, got '2025-13-45'" in capsys.readouterr().err
    # A reversed range is refused before the index opens, naming the flags as typed.
    assert main(["ask", "Who did Hasanov meet?", "--since", "2023-03-01", "--until", "2023-01-01",
                 "--index", "/nonexistent/index"]) == 2
    assert "error: --since 2023-03-01 is after --until 2023-01-01" in capsys.readouterr().err


def test_index_build_add_remove(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jsonl").write_text(
        '{"id": "p1", "title": "Harbour bridge opens", "url": "https://news.example/2025/03/02/bridge", '
        '"text": "The new harbour bridge in Portvale opened on Sunday after four years of work."}\n'
        '{"id": "p2", "title": "", "text": ""}\n'
    )
    (src / "b.md").write_text("# Museum reopens\n\nThe Portvale museum reopened its doors with a whale skeleton.\n")
    idx, problems = tmp_path / "idx", tmp_path / "problems.jsonl"
    assert main(["index", "build", str(src), "--index", str(idx), "--quiet", "--problems", str(problems)]) == 0
    out = capsys.readouterr().out
    assert "2 articles" in out and "a.jsonl:2" in out
    assert f"Every problem (1) is in {problems} (one JSON object per line)." in out
    assert [json.loads(line) for line in problems.read_text().splitlines()] == [
        {"file": str(src / "a.jsonl"), "line": 2, "kind": "missing-text", "reason": "empty text", "kept": False}]
    assert main(["ask", "What opened in Portvale on Sunday?", "--index", str(idx)]) == 0
    assert "harbour bridge" in capsys.readouterr().out.lower()
    assert main(["index", "build", str(src), "--index", str(idx), "--quiet"]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert main(["index", "remove", "p1", "--index", str(idx)]) == 0
    assert "1 removed" in capsys.readouterr().out


def test_missing_index_is_a_clear_error(tmp_path, capsys):
    assert main(["ask", "anything at all", "--index", str(tmp_path / "none")]) == 1
    assert "No index found" in capsys.readouterr().err


def test_retrieval_options_reach_the_config():
    from newsdesk.cli import _config, build_parser

    args = build_parser().parse_args(["ask", "q", "--fusion", "rrf", "--rerank", "0", "--k", "3",
                                      "--article-bm25", "4"])
    config = _config(args)
    assert (config.retrieve.fusion, config.rerank.articles, config.k, config.rerank.article_bm25) == ("rrf", 0, 3, 4)
    default = _config(build_parser().parse_args(["ask", "q"]))
    assert (default.retrieve.fusion, default.rerank.articles, default.rerank.article_bm25) == ("convex", 50, 10)


def test_llm_gguf_answers_greedily_with_a_short_context(monkeypatch):
    """--llm-gguf points the config at the local server, at temperature 0 (sampled replies of the
    0.5B model were sometimes markers alone) and 1,200 tokens of passages."""
    import contextlib

    import newsdesk.local_llm
    from newsdesk.cli import LOCAL_CONTEXT_TOKENS, _config, _local_llm, build_parser

    class Server(contextlib.nullcontext):  # stands in for llama.cpp: nothing is started
        base_url, model = "http://127.0.0.1:9/v1", "tiny"

        def __init__(self, path, progress=None):
            super().__init__(self)

    monkeypatch.setattr(newsdesk.local_llm, "LocalLLMServer", Server)
    args = build_parser().parse_args(["ask", "q", "--llm-gguf", "tiny.gguf"])
    with _local_llm(args):
        generator = _config(args).generator
    assert (generator.base_url, generator.model) == ("http://127.0.0.1:9/v1", "tiny")
    assert (generator.temperature, generator.context_tokens) == (0.0, LOCAL_CONTEXT_TOKENS)
    plain = _config(build_parser().parse_args(["ask", "q"])).generator
    assert plain.temperature == 0.1 and plain.context_tokens == 3000


def test_flagged_sentences_print_apart_never_as_the_answer() -> None:
    from newsdesk.cli import format_answer
    from rag.records import Answer

    answer = Answer(question="q", text="Hasanov met Haluk Görgün [1].", citations=[],
                    flagged=["The treaty was cancelled by the United Nations."],
                    warnings=["Not supported by [1] (United is not there): …"])
    lines = format_answer(answer).splitlines()
    assert lines[0] == "Hasanov met Haluk Görgün [1]."
    at = lines.index("Not backed by the sources, so not part of the answer:")
    assert lines[at + 1] == "  [unsupported] The treaty was cancelled by the United Nations."
    assert not any("United Nations" in line for line in lines[:at])
