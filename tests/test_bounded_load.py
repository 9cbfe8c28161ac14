"""Bounded cost of hostile input (issue 30, F4): streamed records, and a problem naming each
limit (``index.load.LoadLimits``) as soon as a file passes it.

The memory tests load a hostile file in a fresh interpreter and bound its peak RSS growth
(``VmHWM``, else ``ru_maxrss``); the limit tests use small limits so the files stay small."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from index.load import LoadLimits, LoadReport, load_articles

ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20
# Far below what reading any of these files whole costs (each is 100 MB or more once read).
MAX_GROWTH_MB = 80

_MEASURE = """
import json, resource, sys
from index.load import load_articles, _html_record

def peak_kb():
    # VmHWM is this image's own peak; ru_maxrss starts at the parent's peak after fork and exec.
    try:
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

_html_record("<html><body><p>warm the extractor's imports up</p></body></html>")
limits = json.loads(sys.argv[2])
if limits:
    from index.load import LoadLimits
    limits = {"limits": LoadLimits(**limits)}
before = peak_kb()
report = load_articles([sys.argv[1]], **limits)
after = peak_kb()
print(json.dumps({"growth_mb": (after - before) / 1024, "articles": len(report.articles),
                  "problems": [[getattr(p, "kind", ""), p.reason] for p in report.problems
                               if getattr(p, "kind", "") != "duplicate-id"]}))
"""


def peak_growth(path: Path, **limits: object) -> dict:
    """Load ``path`` in a fresh interpreter: its peak RSS growth in MB, articles, and problems other than
    duplicate ids."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path), json.dumps(limits)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=True).stdout
    return json.loads(out.splitlines()[-1])


def gzip_stream(path: Path, chunk: bytes, times: int) -> Path:
    """A gzip file of ``chunk`` repeated ``times`` times, written without holding it unpacked."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(path, "wb") as f:
        for _ in range(times):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    return path


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def story(i: int) -> dict:
    return {"id": f"s{i}", "title": f"Story {i}", "text": f"The council met for session {i} and voted on the plan."}


def only(report: LoadReport, kind: str):
    [problem] = [p for p in report.problems if p.kind == kind]
    return problem


# --- memory --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_gzip_bomb_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    # 256 MB of one line without a newline, in 0.25 MB: read whole, it took over 2 GB.
    bomb = gzip_stream(tmp_path / "bomb.jsonl.gz", b" " * MB, 256)
    result = peak_growth(bomb)
    assert result["growth_mb"] < MAX_GROWTH_MB, result
    assert result["problems"] == [["limit-line-bytes", "line is over 32.0 MB; the limit is 32.0 MB per line"]]


@pytest.mark.slow
def test_a_gzip_of_one_duplicated_id_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    # 190 MB unpacked of one record repeated (the UI upload that took 281 s and 6.8 GB).
    line = (json.dumps({"id": "same", "text": "The same story, again and again."}) + "\n").encode()
    dup = gzip_stream(tmp_path / "dup.jsonl.gz", line * 20_000, 150)
    result = peak_growth(dup, records=20_000)
    assert result["growth_mb"] < MAX_GROWTH_MB, result
    assert result["articles"] == 1
    assert result["problems"] == [["limit-records", "over 20,000 records; the limit is 20,000 records per file: "
                                   "the rest of the file (from line 20,001) was not read (split it)"]], result


@pytest.mark.slow
def test_a_sparse_file_is_sniffed_not_read_whole(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.jsonl"
    with open(sparse, "wb") as f:
        f.truncate(1 << 30)  # 1 GiB of zeros that take no disk space
    result = peak_growth(sparse)
    assert result["growth_mb"] < MAX_GROWTH_MB, result
    assert result["problems"] == [["binary", "binary file (NUL bytes), not text"]]


@pytest.mark.slow
def test_a_huge_html_table_is_refused_before_the_extractor(tmp_path: Path) -> None:
    # 13 MB of table: the extractor took 224 s and 1.6 GB on it.
    rows = "".join(f"<tr><td>cell {i}</td><td>value {i * 7}</td><td>more text here</td></tr>" for i in range(180_000))
    page = tmp_path / "table.html"
    page.write_text(f"<html><body><table>{rows}</table></body></html>")
    result = peak_growth(page)
    assert result["growth_mb"] < MAX_GROWTH_MB, result
    size = page.stat().st_size / MB
    reason = f"HTML page is {size:,.1f} MB; the limit is 4.0 MB per HTML page"
    assert result["problems"] == [["limit-html-bytes", reason]]


@pytest.mark.slow
def test_a_50_mb_upload_of_tiny_records_stays_under_1_gb_with_the_default_limits(tmp_path: Path) -> None:
    # The worst of the formats measured (50 MB each: text, one JSON object, JSON array, CSV, feed):
    # 1.9 million CSV rows. Read whole, each became an article: several GB.
    rows = tmp_path / "rows.csv"
    with open(rows, "wb") as f:
        f.write(b"id,text\n")
        for start in range(0, 1_900_000, 100_000):
            f.write(b"".join(b"r%d,short text %d\n" % (i, i) for i in range(start, start + 100_000)))
    assert rows.stat().st_size <= 50 * MB
    result = peak_growth(rows)
    assert result["growth_mb"] < 900, result
    assert result["articles"] == 500_000 and result["problems"][0][0] == "limit-records"


# --- each limit, with its problem line -------------------------------------------------------


def test_unpacked_bytes_limit_keeps_the_records_before_it(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*(story(i) for i in range(2000))).encode()))
    report = load_articles([path], limits=LoadLimits(unpacked_bytes=10_000))
    problem = only(report, "limit-unpacked-bytes")
    assert problem.reason == ("unpacks to over 10,000 bytes; the limit is 10,000 bytes unpacked per file (split it); "
                              "the rest of the file was not read")
    assert 0 < len(report.articles) < 2000 and problem.line == len(report.articles) + 1


@pytest.mark.parametrize("name, content", [
    ("many.jsonl", jsonl(*(story(i) for i in range(30)))),
    ("many.json", json.dumps([story(i) for i in range(30)], indent=0)),
    ("many.csv", "id,title,text\n" + "".join(f"s{i},Story {i},The council met for session {i}.\n" for i in range(30))),
])
def test_records_limit_stops_reading_with_one_problem(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    report = load_articles([path], limits=LoadLimits(records=10))
    assert [a.id for a in report.articles] == [f"s{i}" for i in range(10)]
    assert report.records == 10
    [problem] = report.problems
    assert (problem.kind, problem.kept) == ("limit-records", False)
    assert problem.reason.startswith("over 10 records; the limit is 10 records per file: the rest of the file "
                                     "(from line ")


def test_seconds_limit_stops_reading_with_one_problem(tmp_path: Path) -> None:
    ticks = iter(range(10_000))  # a fake clock: one second per call
    path = tmp_path / "slow.jsonl"
    path.write_text(jsonl(*(story(i) for i in range(30))))
    report = load_articles([path], limits=LoadLimits(seconds=5), clock=lambda: next(ticks))
    assert 0 < len(report.articles) < 30
    problem = only(report, "limit-seconds")
    assert problem.reason == (f"reading took over 5 s; the limit is 5 s per file: the rest of the file (from line "
                              f"{len(report.articles) + 1}) was not read (split it)")


def test_over_long_line_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text(jsonl(story(1), {"id": "long", "text": "word " * 1000}, story(2)))
    report = load_articles([path], limits=LoadLimits(line_bytes=1000))
    assert [a.id for a in report.articles] == ["s1", "s2"]
    assert [(p.line, p.kind, p.reason) for p in report.problems] == [
        (2, "limit-line-bytes", "line is over 1,000 bytes; the limit is 1,000 bytes per line")]


def test_html_and_feed_size_limits(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<html><body><article><p>" + "A long page. " * 500
                                        + "</p></article></body></html>")
    (tmp_path / "feed.rss").write_text('<rss version="2.0"><channel>' + "<item><title>x</title></item>" * 200
                                       + "</channel></rss>")
    report = load_articles([tmp_path], limits=LoadLimits(html_bytes=1000, feed_bytes=1000))
    assert report.articles == []
    html, feed = sorted(report.problems, key=lambda p: p.path)[::-1]
    assert (html.kind, feed.kind) == ("limit-html-bytes", "limit-feed-bytes")
    assert html.reason.startswith("HTML page is ") and html.reason.endswith("; the limit is 1,000 bytes per HTML page")
    assert feed.reason.startswith("feed is ") and feed.reason.endswith("; the limit is 1,000 bytes per feed (split it)")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="LoadLimits.records must be positive"):
        LoadLimits(records=0)


def test_duplicates_do_not_keep_the_replaced_articles(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text(jsonl(*({"id": "same", "text": f"Version {i}."} for i in range(50))))
    report = load_articles([path])
    assert [a.text for a in report.articles] == ["Version 49."]
    assert len(report.problems) == 49 and {p.kind for p in report.problems} == {"duplicate-id"}
