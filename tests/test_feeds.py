"""Feeds and crawls: RSS/Atom (index/feeds.py), WARC (index/warc.py) and gzipped JSONL, each
read through index.load like any other file, bad records reported with their position."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from index.feeds import html_text
from index.load import LoadLimits, load_articles

STORY = ("<p>Dock workers at the Port of Valmora walked off the job on Monday, halting the loading of container "
         "ships at the country's busiest harbour.</p><p>The union said about 4,200 members joined the strike "
         "after the port authority offered a 3 percent raise over two years.</p>")

RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Valmora Times</title><link>https://valmoratimes.example/</link>
<item><title>Port workers strike</title><link>https://valmoratimes.example/2025/03/03/strike</link>
  <guid>vt-1001</guid><pubDate>Mon, 03 Mar 2025 09:30:00 GMT</pubDate>
  <author>desk@valmoratimes.example</author>
  <description>Short teaser.</description><content:encoded><![CDATA[{STORY}]]></content:encoded></item>
<item><title>Ferry timetable</title><link>https://valmoratimes.example/2025/03/04/ferry</link>
  <pubDate>Tue, 04 Mar 2025 07:00:00 GMT</pubDate>
  <description>&lt;p&gt;The harbour ferry runs every &lt;b&gt;twenty&lt;/b&gt; minutes during the
  strike.&lt;/p&gt;</description>
</item>
<item><title>An entry with nothing in it</title><link>https://valmoratimes.example/empty</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Wire</title><id>urn:hw</id>
<updated>2025-03-05T10:00:00Z</updated>
<entry><title>Talks resume at the port</title><id>urn:hw:2</id>
  <link href="https://harbourwire.example/talks-resume"/><updated>2025-03-05T10:00:00Z</updated>
  <author><name>Ilse Marquand</name></author>
  <content type="html">&lt;p&gt;Union and port authority negotiators met again on Wednesday.&lt;/p&gt;</content>
</entry></feed>"""

PAGE = """<html><head><title>Valmora strike enters second day</title>
<meta property="og:site_name" content="Harbour Daily"></head><body>
<nav>Home | World | Sport</nav><article><h1>Valmora strike enters second day</h1>
<p>The strike at the Port of Valmora entered its second day on Tuesday as more than forty cargo ships waited at
anchor off the harbour and freight forwarders warned of shortages of fuel and grain in the coming week.</p>
<p>Union secretary Ilse Marquand said the walkout would go on until the port authority improved its pay offer
and dropped its plan to bring automated cranes into two of its five terminals.</p>
<p>Transport Minister Paulo Brenner said he was ready to appoint an independent arbitrator if the talks did not
resume by the end of the week, and urged both sides to return to mediation at once.</p>
</article><footer>Copyright Harbour Daily</footer></body></html>"""


def _write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_rss_entries_are_articles_with_full_content_dates_and_links(tmp_path):
    report = load_articles([_write(tmp_path, "valmora.rss", RSS)])
    by_title = {a.title: a for a in report.articles}
    strike = by_title["Port workers strike"]
    assert strike.id == "vt-1001" and strike.date == date(2025, 3, 3)
    assert strike.url == "https://valmoratimes.example/2025/03/03/strike" and strike.source == "valmoratimes.example"
    assert "4,200 members" in strike.text and "Short teaser" not in strike.text  # full content wins
    assert "\n" in strike.text and "<p>" not in strike.text  # HTML became paragraphs
    ferry = by_title["Ferry timetable"]
    assert " ".join(ferry.text.split()) == "The harbour ferry runs every twenty minutes during the strike."
    # The empty entry is reported with its position in the feed, like a bad JSONL line.
    assert report.records == 3 and len(report.articles) == 2
    assert [(p.line, p.reason) for p in report.problems] == [(3, "entry has no text (no content or summary)")]


def test_atom_entries_are_articles(tmp_path):
    report = load_articles([_write(tmp_path, "wire.atom", ATOM)])
    [a] = report.articles
    assert (a.title, a.author, a.date, a.url) == ("Talks resume at the port", "Ilse Marquand", date(2025, 3, 5),
                                                  "https://harbourwire.example/talks-resume")


def test_an_xml_file_that_is_no_feed_is_reported(tmp_path):
    report = load_articles([_write(tmp_path, "config.xml", "<settings><colour>blue</colour></settings>")])
    assert report.articles == [] and len(report.problems) == 1
    assert report.problems[0].line is None and "not an RSS or Atom feed" in report.problems[0].reason


def test_html_text_keeps_paragraphs_and_drops_scripts():
    assert html_text("<p>One.</p><p>Two <b>bold</b>.</p><script>x()</script>") == "One.\n\nTwo bold."
    assert html_text("plain") == "plain"


def _warc(records) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for kind, url, status, content_type, body in records:
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1") if status else None
        writer.write_record(writer.create_warc_record(url, kind, payload=io.BytesIO(body), http_headers=headers,
                                                      warc_headers_dict={"WARC-Date": "2025-03-04T08:00:00Z"}))
    return buf.getvalue()


def test_warc_response_pages_are_extracted_like_html_files_and_the_rest_reported(tmp_path):
    data = _warc([
        ("request", "https://harbourdaily.example/strike-day-two", None, "", b"GET /strike-day-two HTTP/1.1\r\n\r\n"),
        ("response", "https://harbourdaily.example/strike-day-two", "200 OK", "text/html; charset=utf-8",
         PAGE.encode()),
        ("response", "https://harbourdaily.example/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("response", "https://harbourdaily.example/gone", "404 Not Found", "text/html", b"<html>gone</html>"),
    ])
    report = load_articles([_write(tmp_path, "crawl.warc.gz", data)])
    [a] = report.articles
    assert a.title == "Valmora strike enters second day"
    assert a.url == "https://harbourdaily.example/strike-day-two"
    assert a.source == "Harbour Daily"  # the site names itself (og:site_name), as for an .html file
    assert "forty cargo ships" in a.text and "Home | World" not in a.text  # page furniture is cut
    assert a.date == date(2025, 3, 4)  # the crawl date, as the page names none
    assert report.records == 3  # the three responses; the request record is not an article
    assert [(p.line, p.reason) for p in report.problems] == [
        (3, "https://harbourdaily.example/logo.png: not an HTML page (image/png)"),
        (4, "https://harbourdaily.example/gone: HTTP status 404, not a page"),
    ]
    # An uncompressed archive reads the same.
    plain = gzip.decompress(data)
    assert [x.title for x in load_articles([_write(tmp_path, "crawl.warc", plain)]).articles] == [a.title]


def test_a_damaged_warc_keeps_the_pages_before_the_damage(tmp_path):
    good = _warc([("response", "https://harbourdaily.example/a", "200 OK", "text/html", PAGE.encode())])
    report = load_articles([_write(tmp_path, "cut.warc.gz", good + b"garbage garbage")])
    assert len(report.articles) == 1
    assert any(p.line is None and "damaged archive after record 1" in p.reason for p in report.problems)


def test_gzipped_jsonl_is_read_line_by_line_with_bad_lines_reported(tmp_path):
    lines = [json.dumps({"id": "g1", "title": "Strike", "text": "Dock workers walked out on Monday."}),
             "{not json",
             json.dumps({"id": "g2", "title": "Talks", "text": "Negotiators met again on Wednesday."})]
    path = _write(tmp_path, "dump.jsonl.gz", gzip.compress("\n".join(lines).encode()))
    report = load_articles([path])
    assert [a.id for a in report.articles] == ["g1", "g2"]
    assert [(p.line, p.reason.split(":")[0]) for p in report.problems] == [(2, "malformed JSON")]
    # Two gzip members one after the other (as `cat a.gz b.gz` makes) are one file.
    two = gzip.compress(lines[0].encode() + b"\n") + gzip.compress(lines[2].encode())
    assert [a.id for a in load_articles([_write(tmp_path, "two.ndjson.gz", two)]).articles] == ["g1", "g2"]


def test_a_truncated_or_oversized_gzip_is_reported_not_raised(tmp_path):
    whole = gzip.compress(("\n".join(json.dumps({"id": f"x{i}", "text": "Some text here."}) for i in range(200)))
                          .encode())
    cut = load_articles([_write(tmp_path, "cut.jsonl.gz", whole[: len(whole) // 2])])
    assert cut.articles == [] and "not a readable gzip file" in cut.problems[0].reason
    bomb = gzip.compress(b" " * 5_000_000)
    big = load_articles([_write(tmp_path, "bomb.jsonl.gz", bomb)], limits=LoadLimits(unpacked_bytes=1_000_000))
    assert big.articles == [] and "unpacks to over" in big.problems[0].reason


def test_the_ui_upload_takes_feeds_archives_and_gzipped_jsonl(tmp_path):
    from ui.handlers import PICKER_TYPES, upload_refusal

    for name in ("news.rss", "wire.atom", "feed.xml", "crawl.warc", "crawl.warc.gz", "dump.jsonl.gz"):
        assert upload_refusal(_write(tmp_path, name, "x")) is None, name
    assert "unsupported file type" in upload_refusal(_write(tmp_path, "photos.tar.gz", "x"))
    assert ".gz" in PICKER_TYPES and ".warc" in PICKER_TYPES


def _three_pages(gz: bool) -> tuple[bytes, list[int]]:
    """A WARC of three response pages, and the offset where each record starts."""
    buf, offsets = io.BytesIO(), []
    writer = WARCWriter(buf, gzip=gz)
    for i in (1, 2, 3):
        offsets.append(buf.tell())
        page = PAGE.replace("Valmora strike enters second day", f"Valmora strike, report {i}")
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"https://harbourdaily.example/{i}", "response",
                                                      payload=io.BytesIO(page.encode()), http_headers=headers))
    return buf.getvalue(), offsets


def _declare_length(record: bytes, length: int) -> bytes:
    head, sep, rest = record.partition(b"Content-Length: ")
    return head + sep + str(length).encode() + rest[rest.index(b"\r\n"):]


def test_an_impossible_warc_record_length_is_reported_and_swallows_nothing(tmp_path):
    data, (_, second, third) = _three_pages(gz=False)
    forged = data[:second] + _declare_length(data[second:third], 10**12) + data[third:]
    report = load_articles([_write(tmp_path, "forged.warc", forged)])
    assert [a.title for a in report.articles] == ["Valmora strike, report 1", "Valmora strike, report 3"]
    [problem] = report.problems
    assert (problem.line, problem.kind, problem.kept) == (2, "bad-record-length", False)
    assert problem.reason == ("https://harbourdaily.example/2: Content-Length 1,000,000,000,000 is over the limit of "
                              "1,024.0 MB per record; record skipped")
    # A length within the limit that still runs past the end of the file is refused too.
    short = data[:second] + _declare_length(data[second:third], 100_000) + data[third:]
    report = load_articles([_write(tmp_path, "short.warc", short)])
    assert [a.title for a in report.articles] == ["Valmora strike, report 1", "Valmora strike, report 3"]
    assert "runs past the end of the file" in report.problems[0].reason


def test_an_impossible_length_in_a_gzipped_warc_is_reported(tmp_path):
    data, (_, second, third) = _three_pages(gz=True)
    forged = data[:second] + gzip.compress(_declare_length(gzip.decompress(data[second:third]), 10**12)) + data[third:]
    report = load_articles([_write(tmp_path, "forged.warc.gz", forged)])
    assert [a.title for a in report.articles] == ["Valmora strike, report 1", "Valmora strike, report 3"]
    assert [(p.line, p.kind) for p in report.problems] == [(2, "bad-record-length")]


def test_a_warc_page_over_the_html_limit_is_reported(tmp_path):
    data, _ = _three_pages(gz=True)
    report = load_articles([_write(tmp_path, "big.warc.gz", data)], limits=LoadLimits(html_bytes=100))
    assert report.articles == []
    assert [p.kind for p in report.problems] == ["limit-html-bytes"] * 3
    assert report.problems[0].reason == ("https://harbourdaily.example/1: the page is over 100 bytes; the limit is "
                                         "100 bytes per HTML page")


def test_a_truncated_gzip_keeps_the_whole_lines_before_the_cut(tmp_path):
    lines = [json.dumps({"id": f"x{i}", "text": f"Report {i} from the harbour, where ships waited."})
             for i in range(2000)]
    whole = gzip.compress("\n".join(lines).encode())
    report = load_articles([_write(tmp_path, "cut.jsonl.gz", whole[: len(whole) * 3 // 4])])
    n = len(report.articles)
    assert 0 < n < 2000 and [a.id for a in report.articles] == [f"x{i}" for i in range(n)]
    [problem] = report.problems
    assert (problem.line, problem.kind) == (None, "bad-gzip")
    assert problem.reason.endswith(f"after line {n}; the rest of the file was not read")
