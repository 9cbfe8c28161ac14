"""Hostile input (``tests/fixtures/hostile/``): every bad record is reported with file, line
and reason, every valid one is indexed, and the limits say what they are."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import pytest

import index.build
from index.build import build_index, write_collection
from index.load import LoadReport, load_articles
from index.records import stable_id
from index.settings import IndexSettings
from index.store import IndexStore
from newsdesk.cli import main
from rag.assistant import MAX_QUESTION_CHARS
from tests.conftest import HashEmbedder, make_articles
from tests.fixtures.make_hostile import FILES, HOSTILE

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)

# (file, line) of every record that is skipped, and how its reason starts.
SKIPPED = {
    ("binary.txt", None): "binary file (NUL bytes), not text",
    ("broken_quote.csv", 3): "broken CSV quoting",
    ("broken_quote.csv", 5): "broken CSV quoting",
    ("control_chars.jsonl", 3): "malformed JSON: Invalid control character",
    ("duplicates.jsonl", 1): "duplicate id 'dup-1', replaced by line 3",
    ("duplicates.jsonl", 2): "duplicate id 'dup-2', replaced by ",
    ("latin1.jsonl", 2): "invalid UTF-8 bytes",
    ("malformed.jsonl", 2): "malformed JSON: Unterminated string",
    ("malformed.jsonl", 3): "malformed JSON: Expecting value",
    ("malformed.jsonl", 4): "expected a JSON object, got a list",
    ("malformed.jsonl", 7): "malformed JSON: Extra data",
    ("missing_text.jsonl", 1): "missing text (looked for: text, body",
    ("missing_text.jsonl", 2): "empty text",
    ("missing_text.jsonl", 3): "empty text",
    ("missing_text.jsonl", 4): "missing text",
    ("missing_text.jsonl", 5): "empty text after cleaning",
    ("missing_text.jsonl", 6): "empty text after cleaning",
    ("wrong_types.json", 2): "text is a number, expected a string",
    ("wrong_types.json", 3): "text is a list, expected a string",
    ("wrong_types.json", 4): "title is an object, expected a string",
    ("wrong_types.json", 5): "expected a JSON object, got a str",
}
# Records that are loaded with a warning.
KEPT = {
    ("wrong_types.json", 7): "id is a list; derived one from the url or text",
    ("wrong_types.json", 8): "unparseable date True",
}


def file_id(name: str) -> str:
    """The id a text/Markdown/HTML file gets: from its path below the folder loaded and its bytes."""
    digest = hashlib.sha1((HOSTILE / name).read_bytes()).hexdigest()
    return "f" + hashlib.sha1(f"{name}\n{digest}".encode()).hexdigest()[:15]


VALID_IDS = {
    "malformed-ok-1", "malformed-ok-2", "dup-1", "dup-2", "latin1-ok-1", "latin1-ok-2",
    "controls-escaped", "controls-zero-width", "types-number-title", "types-bool-date",
    stable_id(url="https://news.example/2025/03/04/list-id"),
    stable_id(text="The council approved the harbour tunnel, 7 votes to 2."),
    stable_id(text="The central library will open until 10 pm on weekdays."),
    stable_id(text="The farmers' market returns to the square on Saturday."),
    file_id("control_chars.txt"), file_id("scripts.html"),
}


@pytest.fixture(scope="module")
def report() -> LoadReport:
    return load_articles([HOSTILE])


def where(report: LoadReport, *, kept: bool) -> dict[tuple[str, int | None], str]:
    return {(Path(p.path).name, p.line): p.reason for p in report.problems if p.kept == kept}


def by_id(report: LoadReport) -> dict:
    return {a.id: a for a in report.articles}


def test_fixture_files_match_their_generator() -> None:
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(FILES)
    for name, content in FILES.items():
        assert (HOSTILE / name).read_bytes() == content, f"run tests/fixtures/make_hostile.py ({name})"


def test_every_problem_has_a_known_kind(report: LoadReport) -> None:
    from index.load import PROBLEM_KINDS

    assert {p.kind for p in report.problems} <= set(PROBLEM_KINDS)
    assert {p.kind for p in report.problems} >= {"binary", "malformed-csv", "malformed-json", "duplicate-id",
                                                 "invalid-utf8", "missing-text", "wrong-type", "not-an-object"}


def test_every_bad_record_is_reported_with_file_line_and_reason(report: LoadReport) -> None:
    skipped = where(report, kept=False)
    assert sorted(skipped, key=str) == sorted(SKIPPED, key=str)
    for key, start in SKIPPED.items():
        assert skipped[key].startswith(start), (key, skipped[key])
    kept = where(report, kept=True)
    assert sorted(kept, key=str) == sorted(KEPT, key=str)
    for key, start in KEPT.items():
        assert kept[key].startswith(start), (key, kept[key])
    # Every record seen is either loaded or skipped with a reason (the binary file has no records).
    assert report.records == len(report.articles) + len(SKIPPED) - 1
    assert report.files == len(FILES)


def test_every_valid_record_is_indexed(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    build = build_index([HOSTILE], tmp_path / "idx", settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert set(IndexStore.load(tmp_path / "idx", settings=SETTINGS).article_row) == VALID_IDS
    assert build.articles == len(VALID_IDS)
    assert "malformed.jsonl:2: malformed JSON" in build.summary()


def test_duplicate_ids_keep_the_last_occurrence(report: LoadReport) -> None:
    articles = by_id(report)
    assert articles["dup-1"].title == "New version"  # line 3 of the same file
    assert articles["dup-2"].title == "Tunnel story, updated"  # a file read later
    assert where(report, kept=False)[("duplicates.jsonl", 2)].endswith("duplicates_later.jsonl:1")


def test_html_scripts_and_styles_never_reach_the_article(report: LoadReport) -> None:
    page = by_id(report)[file_id("scripts.html")]
    assert page.title == "Harbour festival draws record crowds"
    assert "forty thousand people" in page.text and "sailing races for school crews" in page.text
    for field in (page.title, page.text, page.author, page.source):
        assert "HOSTILE" not in field and "hotpink" not in field and "evil.example" not in field


def test_control_and_zero_width_characters_are_removed(report: LoadReport) -> None:
    invisible = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
    articles = by_id(report)
    for article in report.articles:
        for field in (article.title, article.text, article.source, article.author):
            assert not invisible.search(field), (article.id, field)
    assert articles["controls-escaped"].text == "The harbour master rang the bell twice.\nShips waited outside."
    assert articles["controls-escaped"].title == "Bell and escape codes"
    assert articles["controls-zero-width"].text == "Password reset requests rose sharply this week."
    assert articles[file_id("control_chars.txt")].title == "Council meets again"


def test_a_20_mb_article_is_truncated_reported_and_indexed(tmp_path: Path, hash_embedder: HashEmbedder) -> None:
    paragraph = "The harbour board met again on Tuesday to discuss the bridge budget. " * 10
    text = "\n\n".join([paragraph.strip()] * (20_000_000 // len(paragraph) + 1))
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps({"id": "huge", "title": "A very long live blog", "text": text}) + "\n")
    assert path.stat().st_size > 20_000_000

    start = time.perf_counter()
    loaded = load_articles([path])
    assert time.perf_counter() - start < 5
    (article,) = loaded.articles
    assert len(article.text) <= 2_000_000 and text.startswith(article.text)
    (problem,) = loaded.problems
    assert (problem.line, problem.kept) == (1, True)
    assert problem.reason == f"text truncated from {len(text):,} to {len(article.text):,} characters"

    start = time.perf_counter()
    write_collection(tmp_path / "idx", loaded.articles, settings=SETTINGS, embedder=hash_embedder, progress=False)
    assert time.perf_counter() - start < 30
    assert list(IndexStore.load(tmp_path / "idx").article_row) == ["huge"]


# ---- the command line: non-zero exit only when nothing valid was found ----------------------


def test_cli_build_of_the_hostile_folder_succeeds_and_lists_the_problems(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(index.build, "Embedder", lambda *args, **kwargs: HashEmbedder())
    idx = tmp_path / "idx"
    assert main(["index", "build", str(HOSTILE), "--index", str(idx), "--model", "hash-64", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"Loaded {len(VALID_IDS)} articles from {len(FILES)} files" in out
    assert "binary.txt: binary file" in out and "broken_quote.csv:3: broken CSV quoting" in out
    assert set(IndexStore.load(idx).article_row) == VALID_IDS


def test_cli_build_with_nothing_valid_exits_1_and_leaves_the_index(tmp_path, capsys, hash_embedder) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("binary.txt", "missing_text.jsonl"):
        shutil.copy(HOSTILE / name, src / name)
    idx = tmp_path / "idx"
    write_collection(idx, make_articles(2), settings=SETTINGS, embedder=hash_embedder, progress=False)
    before = sorted(p.name for p in idx.iterdir())

    assert main(["index", "build", str(src), "--index", str(idx), "--model", "hash-64", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "No valid articles found" in err
    assert "binary.txt: binary file" in err and "missing_text.jsonl:6: empty text after cleaning" in err
    assert sorted(p.name for p in idx.iterdir()) == before
    assert sorted(IndexStore.load(idx, settings=SETTINGS).article_row) == ["a0", "a1"]

    # No index yet: none is created.
    assert main(["index", "build", str(src), "--index", str(tmp_path / "new"), "--quiet"]) == 1
    assert not (tmp_path / "new").exists()


# ---- limits: refused with a message that names the limit and the value given ----------------
# Covered elsewhere: empty questions and k=0 (test_answer.py, test_retrieve.py), the upload size
# (test_ui_handlers.py).

TOO_LONG = "x" * (MAX_QUESTION_CHARS + 1)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "args", "kwargs", "message"), [
    ("ask", (TOO_LONG,), {}, f"question is too long ({MAX_QUESTION_CHARS + 1} characters; at most 2000)"),
    ("search", (TOO_LONG,), {}, f"question is too long ({MAX_QUESTION_CHARS + 1} characters; at most 2000)"),
    ("search", ("bridge",), {"k": 101}, "k must be between 1 and 100, got 101"),
    ("ask", ("Who opened the bridge?",), {"k": 0}, "k must be between 1 and 100, got 0"),
    ("ask", ("Who opened the bridge?",), {"k": "5"}, "k must be between 1 and 100, got '5'"),
])
def test_limits_are_refused_with_a_message_that_states_them(sample_assistant, method, args, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(sample_assistant, method)(*args, **kwargs)


@pytest.mark.parametrize("k", [0, 101, -3, "5", 2.5, None])
def test_a_bad_k_reads_the_same_in_the_config_and_in_a_call(k):
    """``Config(k=0)`` and ``ask(k=0)`` refuse it in the same words (not "a positive integer" in one
    and "between 1 and 100" in the other)."""
    from rag.config import Config, check_k  # check_k: what every call taking k runs

    with pytest.raises(ValueError) as in_config:
        Config(k=k)
    with pytest.raises(ValueError) as in_call:
        check_k(k)
    assert str(in_config.value) == str(in_call.value) == f"k must be between 1 and 100, got {k!r}"


@pytest.mark.slow
def test_limits_themselves_are_allowed(sample_assistant):
    longest = ("bridge " * MAX_QUESTION_CHARS)[:MAX_QUESTION_CHARS]
    assert 0 < len(sample_assistant.search(longest, k=100)) <= 100
