"""Tests for index.load.load_articles on real files: formats, aliases, bad records, ids."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.load import LoadProblem, LoadReport, load_articles
from index.records import stable_id

SHARED_ARTICLES = Path(__file__).parents[2] / "shared" / "data" / "realtimeqa-2023q1" / "articles.jsonl"

STORY = "The council voted on Tuesday to build a bridge.\n\nConstruction starts in spring, officials said."
HTML = """<!DOCTYPE html>
<html lang="en"><head>
<title>Council approves new bridge | Riverside Gazette</title>
<meta property="og:title" content="Council approves new bridge">
<meta property="og:site_name" content="Riverside Gazette">
<meta property="og:url" content="https://gazette.example.com/news/council-approves-bridge">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2023-01-12T09:30:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article>
<h1>Council approves new bridge</h1>
<p>The city council voted seven to two on Wednesday to approve a new pedestrian bridge across the
Riverside canal, ending a debate that had lasted almost three years.</p>
<p>Construction is expected to begin in the spring and to take eighteen months, according to the city
engineer, who said the budget of four million dollars would be met.</p>
<p>Residents of the east bank have long asked for a safer crossing; the nearest bridge is more than a
mile away and carries heavy traffic at rush hour.</p>
</article>
<footer>Copyright 2023 Riverside Gazette. All rights reserved.</footer>
</body></html>
"""


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def reasons(report: LoadReport) -> list[tuple[str, int | None, str]]:
    return [(Path(p.path).name, p.line, p.reason) for p in report.problems]


def skipped_lines(report: LoadReport) -> dict[int | None, str]:
    return {p.line: p.reason for p in report.problems if not p.kept}


# --- formats -----------------------------------------------------------------------------------


def test_jsonl_loads_every_field(tmp_path: Path) -> None:
    record = {
        "id": "a1", "title": "  Bridge   approved ", "url": "https://www.gazette.example.com/2023/01/12/bridge",
        "source": "Gazette", "date": "2023-01-11", "author": "Jane Doe", "text": STORY,
    }
    report = load_articles([write(tmp_path / "a.jsonl", jsonl(record))])
    assert report.problems == []
    assert (report.files, report.records) == (1, 1)
    (a,) = report.articles
    assert (a.id, a.title, a.url, a.source, a.date, a.author, a.text) == (
        "a1", "Bridge approved", record["url"], "Gazette", date(2023, 1, 11), "Jane Doe", STORY,
    )


def test_ndjson_and_defaults_from_url(tmp_path: Path) -> None:
    url = "https://www.gazette.example.com/2023/01/12/bridge"
    report = load_articles([write(tmp_path / "a.ndjson", jsonl({"url": url, "text": STORY}))])
    (a,) = report.articles
    assert a.source == "gazette.example.com"
    assert a.date == date(2023, 1, 12)
    assert a.id == stable_id(url=url)
    assert a.title == "" and a.author == ""


def test_json_array_and_single_object(tmp_path: Path) -> None:
    array = [{"title": "One", "text": "First story text."}, {"title": "Two", "text": "Second story text."}]
    write(tmp_path / "many.json", json.dumps(array, indent=2))
    write(tmp_path / "one.json", json.dumps({"title": "Three", "text": "Third story text."}))
    report = load_articles([tmp_path])
    assert [a.title for a in report.articles] == ["One", "Two", "Three"]
    assert (report.files, report.records, report.problems) == (2, 3, [])


def test_json_file_holding_json_lines_is_read_as_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "lines.json", jsonl({"text": "First story."}, {"text": "Second story."}))
    assert [a.text for a in load_articles([path]).articles] == ["First story.", "Second story."]


def test_csv_with_long_text_and_quoted_newlines(tmp_path: Path) -> None:
    long_text = "word " * 40_000  # 200 KB: over csv's default 128 KB field limit
    path = write(
        tmp_path / "a.csv",
        'Title,URL,Text,Date\n'
        f'"Bridge, approved",https://example.com/x,"{STORY}",2023-01-12\n'
        f'Long one,,"{long_text}",\n',
    )
    report = load_articles([path])
    assert report.problems == []
    first, second = report.articles
    assert (first.title, first.text, first.date, first.source) == (
        "Bridge, approved", STORY, date(2023, 1, 12), "example.com",
    )
    assert len(second.text) == len(long_text.strip())


def test_txt_with_leading_date_line_like_the_seed(tmp_path: Path) -> None:
    text = " date 2025-07-23 Defense Minister Visits Türkiye\nFirst para.\nSecond para.\n"
    path = write(tmp_path / "seed.txt", text)
    (a,) = load_articles([path]).articles
    assert (a.title, a.date, a.text, a.url, a.source) == (
        "Defense Minister Visits Türkiye", date(2025, 7, 23), "First para.\nSecond para.", "", "",
    )
    assert a.id.startswith("f") and len(a.id) == 16


def test_markdown_headline_loses_its_hashes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "\n\n## Bridge approved\n\nUpdated Jan. 12, 2023\n\nThe council voted.\n")
    (a,) = load_articles([path]).articles
    assert (a.title, a.date) == ("Bridge approved", date(2023, 1, 12))
    assert a.text == "Updated Jan. 12, 2023\n\nThe council voted."


def test_html_is_extracted_with_metadata(tmp_path: Path) -> None:
    (a,) = load_articles([write(tmp_path / "page.html", HTML)]).articles
    assert a.title == "Council approves new bridge"
    assert a.text.startswith("The city council voted seven to two")
    assert "heavy traffic at rush hour" in a.text
    assert "Home" not in a.text and "All rights reserved" not in a.text
    assert (a.date, a.author, a.source) == (date(2023, 1, 12), "Jane Doe", "Riverside Gazette")
    assert a.url == "https://gazette.example.com/news/council-approves-bridge"


def test_html_without_article_text_is_reported(tmp_path: Path) -> None:
    html = "<html><head><title>x</title></head><body><script>var a;</script></body></html>"
    path = write(tmp_path / "empty.htm", html)
    report = load_articles([path])
    assert report.articles == []
    assert reasons(report) == [("empty.htm", None, "no article text found in the HTML")]


def test_mixed_folder_is_walked_in_order_skipping_hidden_files(tmp_path: Path) -> None:
    write(tmp_path / "b" / "two.jsonl", jsonl({"title": "jsonl", "text": "From JSON Lines."}))
    write(tmp_path / "a" / "one.txt", "txt\nFrom a text file.")
    write(tmp_path / "c.csv", "title,text\ncsv,From a CSV file.\n")
    write(tmp_path / "d.md", "# md\nFrom Markdown.")
    write(tmp_path / "e.html", HTML)
    write(tmp_path / ".hidden.jsonl", jsonl({"title": "hidden", "text": "Never read."}))
    write(tmp_path / ".git" / "x.txt", "hidden\nNever read.")
    write(tmp_path / "notes.docx", b"PK\x03\x04")
    report = load_articles([tmp_path])
    assert [a.title for a in report.articles] == ["txt", "jsonl", "csv", "md", "Council approves new bridge"]
    assert report.files == 5
    assert reasons(report) == [
        ("notes.docx", None, "unsupported file type '.docx'; expected one of .jsonl, .ndjson, .json, .csv, "
         ".txt, .md, .html, .htm, .jsonl.gz, .ndjson.gz, .rss, .atom, .xml, .warc, .warc.gz"),
    ]


def test_missing_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    report = load_articles([tmp_path / "nope.jsonl", tmp_path / "nope-dir"])
    assert report.articles == [] and report.records == 0
    assert [(p.line, p.reason) for p in report.problems] == [(None, "no such file or folder")] * 2


def test_a_single_path_string_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl({"text": "Story."}))
    assert len(load_articles(str(path)).articles) == 1


# --- field names -------------------------------------------------------------------------------


def test_default_aliases(tmp_path: Path) -> None:
    record = {
        "Headline": "Bridge approved", "body": STORY, "published_at": "2023-01-12T09:30:00Z",
        "link": "https://example.com/story", "publisher": "Gazette", "authors": ["Jane Doe", "John Roe"],
    }
    (a,) = load_articles([write(tmp_path / "a.jsonl", jsonl(record))]).articles
    assert (a.title, a.text, a.date, a.url, a.source, a.author) == (
        "Bridge approved", STORY, date(2023, 1, 12), "https://example.com/story", "Gazette",
        "Jane Doe, John Roe",
    )


@pytest.mark.parametrize(
    ("key", "value", "attr", "expected"),
    [
        ("name", "A title", "title", "A title"),
        ("heading", "A title", "title", "A title"),
        ("content", "Story text.", "text", "Story text."),
        ("article_text", "Story text.", "text", "Story text."),
        ("story", "Story text.", "text", "Story text."),
        ("pubdate", "Jan 12, 2023", "date", date(2023, 1, 12)),
        ("datetime", "2023-01-12 10:00", "date", date(2023, 1, 12)),
        ("time", 1673517600, "date", date(2023, 1, 12)),
        ("href", "https://example.com/x", "url", "https://example.com/x"),
        ("permalink", "https://example.com/x", "url", "https://example.com/x"),
        ("site", "Gazette", "source", "Gazette"),
        ("outlet", "Gazette", "source", "Gazette"),
        ("domain", "gazette.example.com", "source", "gazette.example.com"),
        ("byline", "By  Jane Doe", "author", "By Jane Doe"),
        ("writer", "Jane Doe", "author", "Jane Doe"),
    ],
)
def test_each_alias(tmp_path: Path, key: str, value: object, attr: str, expected: object) -> None:
    record = {key: value} if attr == "text" else {"text": "Default story text.", key: value}
    (a,) = load_articles([write(tmp_path / "a.jsonl", jsonl(record))]).articles
    assert getattr(a, attr) == expected


def test_first_non_empty_alias_wins(tmp_path: Path) -> None:
    record = {"text": "  ", "body": "The body text.", "title": "", "headline": "The headline"}
    (a,) = load_articles([write(tmp_path / "a.jsonl", jsonl(record))]).articles
    assert (a.title, a.text) == ("The headline", "The body text.")


def test_field_map_overrides_defaults(tmp_path: Path) -> None:
    record = {"text": "Teaser.", "story_body": "The full story.", "hed": "Bridge approved"}
    path = write(tmp_path / "a.jsonl", jsonl(record))
    (a,) = load_articles([path], field_map={"text": "story_body", "title": "HED"}).articles
    assert (a.title, a.text) == ("Bridge approved", "The full story.")


def test_field_map_with_unknown_field_raises_listing_valid_fields(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'body' is not a field; valid fields: id, title, text, date, url"):
        load_articles([tmp_path], field_map={"body": "story"})
    with pytest.raises(ValueError, match="max_chars"):
        load_articles([tmp_path], max_chars=0)


def test_nested_source_and_author_objects(tmp_path: Path) -> None:
    record = {
        "text": "Story.", "source": {"id": "cnn", "name": "CNN"},
        "author": [{"name": "Jane Doe"}, "John Roe"],
    }
    (a,) = load_articles([write(tmp_path / "a.jsonl", jsonl(record))]).articles
    assert (a.source, a.author) == ("CNN", "Jane Doe, John Roe")


# --- bad records -------------------------------------------------------------------------------


def test_bad_jsonl_records_are_reported_by_line_and_the_rest_loaded(tmp_path: Path) -> None:
    lines = [
        {"id": "ok1", "text": "Valid one."},  # 1
        '{"id": "broken", "text": ',  # 2
        "[1, 2, 3]",  # 3
        {"id": "no-text", "title": "Only a title"},  # 4
        {"id": "empty", "text": ""},  # 5
        {"id": "blank", "text": " \n\t "},  # 6
        {"id": "num", "text": 42},  # 7
        {"id": "list", "text": ["a", "b"]},  # 8
        {"id": "dict-title", "title": {"x": 1}, "text": "Story."},  # 9
        {"id": "furniture", "text": "Advertisement\nShare this article"},  # 10
        "",  # 11: blank lines are not records
        {"id": "num-title", "title": 1984, "text": "A novel."},  # 12
        {"id": "ok2", "text": "Valid two."},  # 13
    ]
    report = load_articles([write(tmp_path / "bad.jsonl", jsonl(*lines))])
    assert [a.id for a in report.articles] == ["ok1", "num-title", "ok2"]
    assert report.articles[1].title == "1984"
    assert report.records == 12 and report.skipped == 9
    problems = skipped_lines(report)
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert problems[2].startswith("malformed JSON")
    assert problems[3] == "expected a JSON object, got a list"
    assert problems[4].startswith("missing text (looked for: text, body")
    assert problems[5] == problems[6] == "empty text"
    assert problems[7] == "text is a number, expected a string"
    assert problems[8] == "text is a list, expected a string"
    assert problems[9] == "title is an object, expected a string"
    assert problems[10] == "empty text after cleaning"
    assert all(p.path == str(tmp_path / "bad.jsonl") for p in report.problems)


def test_invalid_utf8_line_is_reported_and_other_lines_loaded(tmp_path: Path) -> None:
    raw = (
        b'{"id": "a", "text": "Good one."}\n'
        b'{"id": "b", "text": "Bad \xff\xfe byte."}\n'
        b'{"id": "c", "text": "Caf\xc3\xa9 is fine."}\n'
    )
    report = load_articles([write(tmp_path / "enc.jsonl", raw)])
    assert [a.id for a in report.articles] == ["a", "c"]
    assert reasons(report) == [("enc.jsonl", 2, "invalid UTF-8 bytes")]


def test_invalid_utf8_in_csv_row_and_in_text_file(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", b"title,text\nOne,Good row.\nTwo,Bad \xff row.\nThree,Good again.\n")
    write(tmp_path / "b.txt", b"Headline\nStory with a bad \xff byte.\n")
    report = load_articles([tmp_path])
    assert [a.title for a in report.articles] == ["One", "Three", "Headline"]
    assert report.articles[-1].text == "Story with a bad \ufffd byte."
    assert reasons(report) == [
        ("a.csv", 3, "invalid UTF-8 bytes"),
        ("b.txt", 2, "invalid UTF-8 bytes replaced with U+FFFD on line(s) 2"),
    ]
    assert report.problems[1].kept


def test_binary_and_empty_files_are_reported(tmp_path: Path) -> None:
    write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path / "empty.jsonl", b"")
    write(tmp_path / "blank.csv", b"\n \n")
    write(tmp_path / "ok.jsonl", jsonl({"text": "Story."}))
    report = load_articles([tmp_path])
    assert len(report.articles) == 1 and report.records == 1
    assert reasons(report) == [
        ("blank.csv", None, "empty file"),
        ("empty.jsonl", None, "empty file"),
        ("image.txt", None, "binary file (NUL bytes), not text"),
    ]


def test_utf16_file_with_bom_is_read_not_called_binary(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl({"text": "Wide story."}).encode("utf-16"))
    assert [a.text for a in load_articles([path]).articles] == ["Wide story."]


def test_csv_broken_quote_is_reported_and_rows_around_it_loaded(tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.csv",
        'title,text\n'
        'One,"First story."\n'
        'Two,"Second story with a "bad" quote."\n'
        'Three,"Third story,\nover two lines."\n'
        'Four,"Unclosed quote\n'
        'Five,Fifth story.\n',
    )
    report = load_articles([path])
    assert [a.title for a in report.articles] == ["One", "Three", "Five"]
    assert report.articles[1].text == "Third story,\nover two lines."
    assert [(line, r.split(":")[0]) for _, line, r in reasons(report)] == [
        (3, "broken CSV quoting"), (6, "broken CSV quoting"),
    ]


def test_csv_row_with_too_many_fields_and_missing_text(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "title,text\nOne,Story one.\nTwo,Story,extra\nThree\nFour,Story four.\n")
    report = load_articles([path])
    assert [a.title for a in report.articles] == ["One", "Four"]
    assert [(line, r) for _, line, r in reasons(report)] == [
        (3, "3 fields, but the header has 2"),
        (4, "missing text (looked for: text, body, content, article, article_text, story)"),
    ]


def test_malformed_json_array_keeps_elements_before_the_error(tmp_path: Path) -> None:
    text = '[\n  {"text": "One."},\n  {"text": "Two."},\n  {"text": oops},\n  {"text": "Four."}\n]'
    path = write(tmp_path / "a.json", text)
    report = load_articles([path])
    assert [a.text for a in report.articles] == ["One.", "Two."]
    ((name, line, reason),) = reasons(report)
    assert (name, line) == ("a.json", 4) and reason.startswith("malformed JSON")


def test_json_array_elements_are_reported_with_their_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", '[\n  {"text": "One."},\n  "not an object",\n  {"title": "x"}\n]\n')
    report = load_articles([path])
    assert [a.text for a in report.articles] == ["One."]
    assert [line for _, line, _ in reasons(report)] == [3, 4]


def test_over_long_text_is_truncated_at_a_paragraph_and_reported(tmp_path: Path) -> None:
    text = "\n\n".join(f"Paragraph {i} has some words in it." for i in range(100))
    report = load_articles([write(tmp_path / "a.jsonl", jsonl({"text": text}))], max_chars=500)
    (a,) = report.articles
    assert len(a.text) <= 500 and a.text.endswith("in it.") and text.startswith(a.text)
    ((_, line, reason),) = reasons(report)
    assert line == 1 and reason.startswith(f"text truncated from {len(text):,} to {len(a.text):,}")
    assert report.problems[0].kept and report.skipped == 0


def test_over_long_single_paragraph_is_cut_at_a_sentence(tmp_path: Path) -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    (a,) = load_articles([write(tmp_path / "a.jsonl", jsonl({"text": text}))], max_chars=300).articles
    assert len(a.text) <= 300 and a.text.endswith("is here.")


def test_unparseable_date_is_reported_but_the_article_kept(tmp_path: Path) -> None:
    record = {"url": "https://example.com/2023/01/12/x", "date": "sometime last week", "text": "Story."}
    report = load_articles([write(tmp_path / "a.jsonl", jsonl({"text": "Other."}, record))])
    assert len(report.articles) == 2
    assert report.articles[1].date == date(2023, 1, 12)
    assert reasons(report) == [
        ("a.jsonl", 2, "unparseable date 'sometime last week'; looked in the url and text instead"),
    ]
    assert report.problems[0].kept


# --- ids and duplicates ------------------------------------------------------------------------


def test_duplicate_ids_last_occurrence_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl",
        jsonl({"id": "x", "text": "Old."}, {"id": "y", "text": "Other."}, {"id": "x", "text": "New."}),
    )
    other = write(tmp_path / "e.jsonl", jsonl({"id": "y", "text": "Newest other."}))
    report = load_articles([path, other])
    assert [(a.id, a.text) for a in report.articles] == [("x", "New."), ("y", "Newest other.")]
    assert reasons(report) == [
        ("d.jsonl", 1, "duplicate id 'x', replaced by line 3"),
        ("d.jsonl", 2, f"duplicate id 'y', replaced by {other}:1"),
    ]
    assert report.records == 4 and report.skipped == 2


def test_ids_are_stable_across_loads_and_hash_follows_content(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", jsonl({"url": "https://example.com/a", "text": "A."}, {"text": "No url."}))
    write(tmp_path / "sub" / "b.txt", "Headline B\nStory B.")
    first = load_articles([tmp_path])
    second = load_articles([tmp_path])
    assert [a.id for a in first.articles] == [a.id for a in second.articles]
    assert [a.content_hash for a in first.articles] == [a.content_hash for a in second.articles]

    # An edited text file is another document: a new id (a build over the folder drops the old one).
    write(tmp_path / "sub" / "b.txt", "Headline B\nStory B, corrected.")
    edited = load_articles([tmp_path]).articles[-1]
    assert edited.id != first.articles[-1].id
    assert edited.content_hash != first.articles[-1].content_hash

    # The id depends on the path relative to the folder given, not on where the folder lives.
    moved = Path(shutil.copytree(tmp_path, tmp_path.parent / (tmp_path.name + "-moved")))
    ids = [a.id for a in load_articles([tmp_path]).articles]
    assert [a.id for a in load_articles([moved]).articles] == ids


def test_documents_with_one_name_from_different_places_get_different_ids(tmp_path: Path) -> None:
    # Uploads arrive one file at a time, so only the name is known: a/report.txt and b/report.txt
    # are both "report.txt". Saved web pages are often all index.html.
    a = write(tmp_path / "a" / "report.txt", "Harbour report\nThe harbour reopened.")
    b = write(tmp_path / "b" / "report.txt", "Council report\nThe council met.")
    body = "<html><body><article><h1>Page {0}</h1><p>{1}</p></article></body></html>"
    pages = [write(tmp_path / d / "index.html", body.format(d, f"The story of page {d}. " * 30)) for d in ("x", "y")]
    ids = [load_articles([p]).articles[0].id for p in (a, b, *pages)]
    assert len(set(ids)) == 4
    # The same document loaded again, from anywhere, keeps its id (re-adding it changes nothing).
    again = write(tmp_path / "c" / "report.txt", "Harbour report\nThe harbour reopened.")
    assert load_articles([again]).articles[0].id == ids[0]


# --- report ------------------------------------------------------------------------------------


def test_summary_and_extend(tmp_path: Path) -> None:
    good = load_articles([write(tmp_path / "a.jsonl", jsonl({"text": "One."}, {"text": "Two."}))])
    assert good.summary() == "Loaded 2 articles from 1 file (2 records)."
    bad = load_articles([write(tmp_path / "b.jsonl", jsonl({"text": "Three."}, "nope", {"title": "x"}))])
    good.extend(bad)
    assert (len(good.articles), good.files, good.records, good.skipped) == (3, 2, 5, 2)
    assert good.summary().splitlines()[1:] == [
        f"  {tmp_path / 'b.jsonl'}:2: malformed JSON: Expecting value at column 1",
        f"  {tmp_path / 'b.jsonl'}:3: missing text (looked for: text, body, content, article, article_text, story)",
    ]
    # Past max_problems, problems are grouped by kind, each with its count and first examples.
    assert good.summary(max_problems=1).splitlines() == [
        "Loaded 3 articles from 2 files (5 records); 2 skipped:",
        "  malformed-json: 1",
        f"    {tmp_path / 'b.jsonl'}:2: malformed JSON: Expecting value at column 1",
        "  missing-text: 1",
        f"    {tmp_path / 'b.jsonl'}:3: missing text (looked for: text, body, content, article, article_text, story)",
    ]
    assert str(LoadProblem("f.txt", None, "empty file")) == "f.txt: empty file"


def test_shared_collection_loads_completely() -> None:
    if not SHARED_ARTICLES.exists():
        pytest.skip(f"{SHARED_ARTICLES} not present")
    report = load_articles([SHARED_ARTICLES])
    assert (len(report.articles), report.records, report.problems) == (2357, 2357, [])
    assert sum(a.date is not None for a in report.articles) / len(report.articles) > 0.9


# --- properties --------------------------------------------------------------------------------

_LINE = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40),
    st.builds(
        lambda title, text, rid: json.dumps({"id": rid, "title": title, "text": text}),
        st.text(max_size=10), st.text(max_size=30), st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
    ),
    # Lone surrogates only reach the loader as JSON escapes; json.dumps writes them that way.
    st.lists(st.integers(0xD800, 0xDFFF).map(chr) | st.characters(), max_size=20).map(
        lambda chars: json.dumps({"text": "".join(chars)})
    ),
    st.sampled_from(['{"text": 1}', "[]", "{}", '{"text": "x"', "null", '{"text": "  "}', '"str"']),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=15))
def test_jsonl_of_arbitrary_lines_never_raises_and_accounts_for_every_line(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "fuzz.jsonl", "\n".join(lines))
        report = load_articles([path])
    record_lines = [n for n, line in enumerate("\n".join(lines).split("\n"), 1) if line.strip()]
    skipped = [p for p in report.problems if not p.kept and p.line is not None]
    file_level = [p for p in report.problems if p.line is None]
    if file_level:  # the whole file was refused (empty, binary): nothing else is said about it
        assert report.records == 0 and report.articles == []
        return
    assert report.records == len(record_lines)
    assert report.records == len(report.articles) + len(skipped)
    assert {p.line for p in skipped} <= set(record_lines)
    assert len({p.line for p in skipped}) == len(skipped)  # one reason per skipped line


def test_lone_surrogate_escapes_are_replaced_and_reported(tmp_path: Path) -> None:
    line = r'{"title": "Bad \ud800 title", "url": "https://example.com/\udfff", "text": "Text \ud83d here."}'
    report = load_articles([write(tmp_path / "s.jsonl", line + "\n")])
    (a,) = report.articles
    assert (a.title, a.text, a.url) == ("Bad \ufffd title", "Text \ufffd here.", "https://example.com/\ufffd")
    assert [(p.line, p.reason, p.kept) for p in report.problems] == [
        (1, "invalid Unicode (lone surrogates) replaced with U+FFFD", True),
    ]


def test_json_array_trailing_comma_is_accepted_and_unclosed_array_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.json", '[{"text": "One."}, {"text": "Two."},]')
    write(tmp_path / "b.json", '[{"text": "Three."},\n')
    report = load_articles([tmp_path])
    assert [a.text for a in report.articles] == ["One.", "Two.", "Three."]
    assert [(name, line) for name, line, _ in reasons(report)] == [("b.json", 2)]
    assert "array not closed" in report.problems[0].reason


def test_id_of_wrong_type_is_replaced_by_a_derived_one(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl({"id": 7, "text": "Seven."}, {"id": ["x"], "text": "Listed."}))
    report = load_articles([path])
    assert [a.id for a in report.articles] == ["7", stable_id(text="Listed.")]
    assert reasons(report) == [("a.jsonl", 2, "id is a list; derived one from the url or text")]


# --- what is read at all ---------------------------------------------------------------------------


def test_only_regular_files_are_read_and_none_can_stall_the_loader(tmp_path: Path) -> None:
    import signal

    write(tmp_path / "good.jsonl", jsonl({"id": "ok", "text": "A fine article."}))
    os.symlink("/dev/zero", tmp_path / "zero.jsonl")
    os.mkfifo(tmp_path / "pipe.jsonl")
    write(tmp_path / "real.txt", "Headline\nA text reached through a link is still a regular file.")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.md")

    def stalled(*_: object) -> None:
        raise TimeoutError("the loader blocked on a FIFO or read /dev/zero without end")

    old = signal.signal(signal.SIGALRM, stalled)
    signal.alarm(20)
    try:
        report = load_articles([tmp_path])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert reasons["zero.jsonl"] == "not a regular file (a character device); not read"
    assert reasons["pipe.jsonl"] == "not a regular file (a FIFO); not read"
    assert {a.title for a in report.articles} >= {"Headline"} and "ok" in {a.id for a in report.articles}
    assert len(report.articles) == 3  # good.jsonl, real.txt and the link to it


def test_files_over_the_size_limit_are_reported_with_the_limit(tmp_path: Path) -> None:
    big = write(tmp_path / "big.jsonl", jsonl(*({"text": f"Article {i} " * 20} for i in range(10))))
    report = load_articles([big], max_file_bytes=1000)
    assert report.articles == []
    [problem] = report.problems
    assert problem.reason == f"file is {big.stat().st_size:,} bytes; the limit is 1,000 bytes per file (split it)"
    assert len(load_articles([big]).articles) == 10  # the default limit (1 GiB) reads it
    with pytest.raises(ValueError, match="max_file_bytes"):
        load_articles([big], max_file_bytes=0)


# --- NUL bytes and binary files (issue 30, F14) -------------------------------------------------


def test_a_nul_in_a_jsonl_line_costs_only_that_line_with_a_whole_reason(tmp_path: Path) -> None:
    raw = (jsonl({"id": "a", "text": "First story."}).encode()
           + b'{"id": "b", "text": "Bro\x00ken."}\n'
           + jsonl({"id": "c", "text": "Third story."}).encode())
    report = load_articles([write(tmp_path / "nul.jsonl", raw)])
    assert [a.id for a in report.articles] == ["a", "c"]
    assert [(p.line, p.kind, p.reason) for p in report.problems] == [
        (2, "malformed-json", "malformed JSON: Invalid control character U+0000 at column 25")]
    # The same NUL past the first 8 KB reads the same.
    padding = jsonl(*({"id": f"p{i}", "text": f"Padding story {i}."} for i in range(300))).encode()
    late = load_articles([write(tmp_path / "late.jsonl", padding + raw)])
    assert len(late.articles) == 302
    assert [(p.line, p.reason) for p in late.problems] == [
        (302, "malformed JSON: Invalid control character U+0000 at column 25")]


def test_a_nul_in_a_csv_row_costs_only_that_row(tmp_path: Path) -> None:
    path = write(tmp_path / "nul.csv", b"id,text\na,First story.\nb,Bro\x00ken.\nc,Third story.\n")
    report = load_articles([path])
    assert [a.id for a in report.articles] == ["a", "c"]
    assert [(p.line, p.kind, p.reason) for p in report.problems] == [
        (3, "malformed-csv", "raw NUL byte in field 'text'")]


@pytest.mark.parametrize("name, content", [
    ("image.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x00\x00\x00\x01\x00\x08\x06"
     + bytes(range(256)) * 8),
    ("program.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\x01\x00" + bytes(4000)),
    ("zeros.jsonl", bytes(20_000)),
    ("wide.jsonl", '{"text": "UTF-16 without a byte order mark"}\n'.encode("utf-16-le") * 3),
])
def test_real_binary_files_are_still_binary(tmp_path: Path, name: str, content: bytes) -> None:
    report = load_articles([write(tmp_path / name, content)])
    assert [(p.line, p.kind, p.reason) for p in report.problems] == [
        (None, "binary", "binary file (NUL bytes), not text")]
    assert report.records == 0


# --- control characters in problem lines (issue 30, F12) -----------------------------------------


def test_control_characters_in_names_and_reasons_are_escaped_on_one_line(tmp_path: Path) -> None:
    name = "evil\nname\x1b[31m\u202e.jsonl"
    write(tmp_path / name, jsonl({"text": "Fine."}, "{broken", {"id": "x\x1b]0;pwned\x07", "text": "A."},
                                 {"id": "x\x1b]0;pwned\x07", "text": "B."}))
    report = load_articles([tmp_path])
    assert len(report.problems) == 2
    for problem in report.problems:
        shown = str(problem)
        assert "\n" not in shown and "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
        assert shown.startswith(str(tmp_path / "evil\\nname\\x1b[31m\\u202e.jsonl:"))
    summary = report.summary()
    assert len(summary.splitlines()) == 3 and "\x1b" not in summary
    # The JSON line keeps the real name and reason (escaped as JSON does).
    record = json.loads(report.problems[0].to_json())
    assert record == {"file": str(tmp_path / name), "line": 2, "kind": "malformed-json",
                      "reason": report.problems[0].reason, "kept": False}


def test_undecodable_file_names_print_and_serialise(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"bad\xffname.jsonl"), "wb") as f:
        f.write(b"{broken\n")
    [problem] = load_articles([tmp_path]).problems
    assert str(problem).endswith("bad\\udcffname.jsonl:1: malformed JSON: Expecting property name enclosed in "
                                 "double quotes at column 2")
    str(problem).encode("utf-8")  # prints on any UTF-8 terminal
    assert json.loads(problem.to_json())["file"] == str(tmp_path / os.fsdecode(b"bad\xffname.jsonl"))
