"""The evaluation harness: question files, dataset adapters, scoring, the gate and reports."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from eval import gate
from eval.collection import default_index_dir
from eval.data import BUNDLED, SAMPLE_QUESTIONS, load_dataset
from eval.questions import Question, QuestionFormatError, load_questions
from eval.report import KEY_COLUMNS, MONTH_COLUMNS, write_report
from eval.runner import parse_variants
from eval.scoring import METRIC_KEYS, QUESTION_KEYS, QuestionResult, RunResult, aggregate, by_month, score_question
from index.settings import IndexSettings
from newsdesk import cli
from rag.assistant import SAMPLE_ARTICLES
from rag.followup import BUNDLED as FOLLOWUP_MODEL
from rag.records import Answer, Choice, Citation, Passage

GOOD = {
    "id": "q1", "question": "Who did Hasanov meet at IDEF 2025?", "answer": "Haluk Görgün", "aliases": ["Görgün"],
    "relevant_ids": ["idef"], "relevant_urls": [], "choices": None, "as_of": "2025-07-25",
    "history": [{"question": "Where is IDEF held?", "answer": "Istanbul [1]"}], "unanswerable": False, "kind": "who",
}


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    return path


# ---- question files ---------------------------------------------------------------------
def test_load_questions_reads_every_field(tmp_path):
    minimal = {"id": "q2", "question": "Is there life on Mars?", "unanswerable": True}
    mc = {"id": "q3", "question": "Which team?", "answer": "Bills", "choices": ["Bills", "Browns"]}
    path = write_jsonl(tmp_path / "q.jsonl", [GOOD, "", minimal, mc])
    q1, q2, q3 = load_questions(path)
    assert q1 == Question(
        id="q1", question=GOOD["question"], answer="Haluk Görgün", aliases=("Görgün",), relevant_ids=("idef",),
        as_of=date(2025, 7, 25), history=(("Where is IDEF held?", "Istanbul [1]"),), kind="who",
    )
    assert q1.answers == ("Haluk Görgün", "Görgün")
    assert q2.unanswerable and q2.answers == () and q2.choices is None and q2.history == ()
    assert q3.choices == ("Bills", "Browns")


def test_question_round_trips_through_dict():
    q = Question.from_dict(GOOD)
    assert Question.from_dict(q.to_dict()) == q
    assert q.to_dict() == GOOD


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({"id": "x", "answer": "a"}, "'question' must be a string"),
    ({"id": "x", "question": " ", "answer": "a"}, "'question' must be a non-empty string"),
    ({"id": "x", "question": "q?"}, "'answer' is required unless 'unanswerable'"),
    ({"id": "x", "question": "q?", "answer": "a", "evidence": "e"}, "unknown field(s) ['evidence']"),
    ({"id": "x", "question": "q?", "answer": "a", "aliases": "b"}, "'aliases' must be a list of strings"),
    ({"id": "x", "question": "q?", "answer": "a", "choices": ["b", "c"]}, "is not one of 'choices'"),
    ({"id": "x", "question": "q?", "answer": "a", "choices": ["a"]}, "at least two options"),
    ({"id": "x", "question": "q?", "answer": "a", "as_of": "05/01/2023"}, "'as_of' must be null or 'YYYY-MM-DD'"),
    ({"id": "x", "question": "q?", "answer": "a", "history": [{"question": "q"}]}, "'history' must be a list"),
    ({"id": "x", "question": "q?", "answer": "a", "unanswerable": "no"}, "'unanswerable' must be true or false"),
    ({"id": 7, "question": "q?", "answer": "a"}, "'id' must be a string"),
])
def test_bad_question_lines_name_file_line_and_reason(tmp_path, line, reason):
    path = write_jsonl(tmp_path / "q.jsonl", [GOOD, line])
    with pytest.raises(QuestionFormatError) as err:
        load_questions(path)
    assert str(err.value).startswith(f"{path}:2: ")
    assert reason in str(err.value)


def test_duplicate_ids_and_empty_files_are_errors(tmp_path):
    with pytest.raises(QuestionFormatError, match=r":2: duplicate id 'q1' \(first on line 1\)"):
        load_questions(write_jsonl(tmp_path / "dup.jsonl", [GOOD, GOOD]))
    with pytest.raises(QuestionFormatError, match="no questions"):
        load_questions(write_jsonl(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(FileNotFoundError):
        load_questions(tmp_path / "missing.jsonl")


# ---- datasets ---------------------------------------------------------------------------
EVIDENCE = "SECRET-EVIDENCE The 24-year-old Buffalo Bills player has shown remarkable improvement."


@pytest.fixture
def quiz_folder(tmp_path) -> Path:
    """A two-article, two-question folder in the RealTimeQA quiz format."""
    folder = tmp_path / "quiz"
    folder.mkdir()
    write_jsonl(folder / "articles.jsonl", [
        {"id": "aaaaaaaaaaaa", "title": "Damar Hamlin update", "url": "https://example.com/hamlin",
         "source": "example.com", "text": "Buffalo Bills safety Damar Hamlin is recovering after a cardiac arrest."},
        {"id": "bbbbbbbbbbbb", "title": "Benedict XVI laid to rest", "url": "https://example.com/benedict",
         "source": "example.com", "text": "Pope Benedict XVI was laid to rest in St. Peter's Square on Thursday."},
    ])
    write_jsonl(folder / "questions.jsonl", [
        {"id": "20230106_0", "date": "2023/01/05", "source": "CNN", "question": "Hamlin plays for which team?",
         "choices": ["Pittsburgh Steelers", "Buffalo Bills"], "answer": "Buffalo Bills", "evidence": EVIDENCE,
         "gold_urls": ["https://example.com/hamlin", "https://example.com/not-in-collection"]},
        {"id": "20230106_1", "date": "2023/01/05", "source": "THE WEEK", "question": "Which former pope was buried?",
         "choices": ["Pope Paul VI", "Pope Benedict XVI"], "answer": "Pope Benedict XVI", "evidence": EVIDENCE,
         "gold_urls": ["https://example.com/benedict"]},
    ])
    return folder


def test_quiz_folder_is_mapped_and_evidence_dropped(quiz_folder):
    ds = load_dataset(quiz_folder)
    assert ds.name == "quiz" and ds.articles_path == quiz_folder / "articles.jsonl"
    q1, q2 = ds.questions
    assert q1.answer == "Buffalo Bills" and q1.aliases == ()
    assert q1.choices == ("Pittsburgh Steelers", "Buffalo Bills")
    assert q1.as_of == date(2023, 1, 5)
    assert q1.relevant_ids == ("aaaaaaaaaaaa",)
    assert q1.relevant_urls == ("https://example.com/hamlin", "https://example.com/not-in-collection")
    assert q2.relevant_ids == ("bbbbbbbbbbbb",)
    assert (q1.kind, q2.kind) == ("quiz-cnn", "quiz-the-week")
    assert ds.unmatched_urls == 1
    # Nothing the evaluation holds carries the quiz's evidence.
    assert "SECRET-EVIDENCE" not in repr(ds)
    assert "SECRET-EVIDENCE" not in json.dumps([q.to_dict() for q in ds.questions])
    assert not any(hasattr(q, "evidence") for q in ds.questions)


def test_quiz_record_errors_name_the_line(quiz_folder):
    path = quiz_folder / "questions.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[1]["date"] = "Jan 5"
    write_jsonl(path, records)
    with pytest.raises(QuestionFormatError, match=r"questions.jsonl:2: 'date' must look like 2023/01/05"):
        load_dataset(quiz_folder)


def test_a_folder_in_newsdesk_format_is_read_too(quiz_folder):
    write_jsonl(quiz_folder / "questions.jsonl", [{
        "id": "n1", "question": "Who is recovering?", "answer": "Damar Hamlin",
        "relevant_urls": ["https://example.com/hamlin"], "relevant_ids": ["bbbbbbbbbbbb"]}])
    (q,) = load_dataset(quiz_folder).questions
    assert q.relevant_ids == ("bbbbbbbbbbbb", "aaaaaaaaaaaa")


def test_missing_dataset_folder_or_files(tmp_path):
    wanted = "conversations-heldout6 or a folder holding articles.jsonl and questions.jsonl"
    with pytest.raises(FileNotFoundError, match=wanted):
        load_dataset(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path)


@pytest.mark.skipif(not (SAMPLE_QUESTIONS.exists() and SAMPLE_ARTICLES.exists()), reason="sample data not yet written")
@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_datasets_name_only_articles_they_have(name):
    ds = load_dataset(name)
    articles = [json.loads(line) for line in SAMPLE_ARTICLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = {a["id"]: a["text"].lower() for a in articles}
    assert ds.name == name and ds.questions
    missing = {(q.id, r) for q in ds.questions for r in q.relevant_ids if r not in texts}
    assert not missing
    # An answerable question's answer is in the text of an article it names (what is scored).
    unsupported = [q.id for q in ds.questions if q.history and not q.unanswerable and not any(
        a.lower() in texts[r] for a in q.answers for r in q.relevant_ids)]
    assert not unsupported


def test_index_cache_folder_depends_on_collection_and_settings(tmp_path, monkeypatch, quiz_folder):
    monkeypatch.setenv("NEWSDESK_CACHE_DIR", str(tmp_path / "cache"))
    ds = load_dataset(quiz_folder)
    a = default_index_dir(ds, IndexSettings())
    assert a.parent == tmp_path / "cache" and a.name.startswith("eval-quiz-")
    assert default_index_dir(ds, IndexSettings()) == a
    assert default_index_dir(ds, IndexSettings(chunk_tokens=200)) != a
    assert default_index_dir(ds, IndexSettings(batch_size=8)) == a  # batch size does not change the index


# ---- scoring ----------------------------------------------------------------------------
def passage(article_id: str, text: str, title: str = "Headline") -> Passage:
    return Passage(article_id=article_id, title=title, url="", source="", date=None, text=text,
                   start=0, end=len(text), score=1.0)


def citation(n: int, quote: str, passage_text: str = "") -> Citation:
    return Citation(number=n, article_id="a", title="t", url="", source="", date=None, quote=quote, score=1.0,
                    passage_text=passage_text)


def test_score_question_for_an_answered_question():
    q = Question(id="q", question="Who?", answer="Haluk Görgün", relevant_ids=("a", "b"),
                 choices=("Haluk Görgün", "Someone Else"))
    passages = [passage("x", "Nothing here."), passage("a", "Hasanov met Haluk Görgün."), passage("a", "More.")]
    answer = Answer(question="Who?", text="Hasanov met Haluk Görgün. [1] The fair ran. [2]",
                    citations=[citation(1, "Hasanov met Haluk Görgün."), citation(2, "The fair ran.")])
    s = score_question(q, passages=passages, answer=answer,
                       choice=Choice(question="Who?", choice="Someone Else", scores={}))
    assert set(s) == set(QUESTION_KEYS)
    assert (s["article_hit@1"], s["article_hit@5"], s["article_recall@10"], s["article_mrr@10"]) == (0, 1, 0.5, 0.5)
    assert (s["answer_in_context@1"], s["answer_in_context@5"]) == (0.0, 1.0)
    assert s["answer_accuracy"] == 1.0
    # Markers stripped: "hasanov met haluk gorgun fair ran" shares 2 of 6 tokens -> P = 1/3, R = 1.
    assert s["answer_f1"] == pytest.approx(0.5)
    assert s["citation_precision"] == 0.5
    assert s["false_abstention_rate"] == 0.0
    assert s["mc_accuracy"] == 0.0
    assert s["abstention_recall"] is None


def test_score_question_abstentions():
    unanswerable = Question(id="u", question="Who won the 2031 Tour?", unanswerable=True)
    abstained = Answer(question="q", text="I could not find Haluk Görgün.", abstained=True,
                       citations=[citation(1, "Haluk Görgün")])
    s = score_question(unanswerable, passages=[passage("a", "x")], answer=abstained, choice=None)
    assert s["abstention_recall"] == 1.0
    assert all(s[k] is None for k in QUESTION_KEYS if k != "abstention_recall")
    answerable = Question(id="a", question="Who?", answer="Haluk Görgün")
    s = score_question(answerable, passages=[], answer=abstained, choice=None)
    # An abstention is wrong even when its text happens to hold the answer, and its citations are not scored.
    assert (s["answer_accuracy"], s["answer_f1"], s["false_abstention_rate"]) == (0.0, 0.0, 1.0)
    assert s["citation_precision"] is None and s["article_hit@10"] is None and s["answer_in_context@10"] == 0.0


def row(qid: str, scores: dict, search_ms: float, latency_ms: float, kind: str = "who",
        as_of: str | None = None) -> QuestionResult:
    return QuestionResult(
        id=qid, kind=kind, question=f"{qid}?", as_of=as_of, expected=("x",), relevant_ids=("a",),
        retrieved_ids=("a", "b"), answer="x [1]", abstained=False, citations=1, choice=None,
        search_ms=search_ms, latency_ms=latency_ms, choose_ms=None,
        scores={**dict.fromkeys(QUESTION_KEYS), **scores},
        recall_curve=tuple([scores["article_recall@10"]] * 10) if "article_recall@10" in scores else None,
    )


def test_aggregate_means_only_where_a_metric_applies():
    rows = [row("q1", {"answer_accuracy": 1.0, "article_recall@10": 1.0}, 10, 100),
            row("q2", {"answer_accuracy": 0.0}, 20, 300),
            row("q3", {"abstention_recall": 1.0}, 30, 200)]
    out = aggregate(rows, build_seconds=12.0, chunks_per_second=50.0)
    assert list(out) == list(METRIC_KEYS)
    assert out["answer_accuracy"] == 0.5
    assert out["article_recall@10"] == 1.0  # one question applies
    assert out["abstention_recall"] == 1.0
    assert out["mc_accuracy"] is None
    assert (out["search_latency_p50_ms"], out["latency_p50_ms"]) == (20.0, 200.0)
    assert out["latency_p95_ms"] == pytest.approx(290.0)
    assert (out["index_build_seconds"], out["chunks_per_second"]) == (12.0, 50.0)


# ---- variants and the gate --------------------------------------------------------------
def test_parse_variants():
    assert parse_variants("bm25, hybrid,bm25") == ["bm25", "hybrid"]
    with pytest.raises(ValueError, match=r"unknown variant\(s\) \['bogus'\].*valid: bm25, dense, hybrid"):
        parse_variants("bm25,bogus")
    with pytest.raises(ValueError, match="valid"):
        parse_variants(" , ")


def test_thresholds_file_is_valid_and_names_the_gated_metrics():
    thresholds = gate.load_thresholds()
    assert {"article_recall@10", "answer_accuracy", "abstention_recall", "false_abstention_rate",
            "citation_precision", "mc_accuracy"} <= set(thresholds)


def test_gate_check_reports_each_failure():
    thresholds = {"answer_accuracy": {"min": 0.6}, "false_abstention_rate": {"max": 0.1},
                  "mc_accuracy": {"min": 0.5}, "article_recall@10": {"min": 0.5, "max": 1.0}}
    metrics = {"answer_accuracy": 0.5, "false_abstention_rate": 0.2, "mc_accuracy": None, "article_recall@10": 0.9}
    failures = gate.check(metrics, thresholds)
    assert len(failures) == 3
    assert "answer_accuracy = 0.5 is below the minimum 0.6" in failures[0]
    assert "false_abstention_rate = 0.2 is above the maximum 0.1" in failures[1]
    assert "mc_accuracy: not measured" in failures[2]
    assert gate.check({"answer_accuracy": 0.6}, {"answer_accuracy": {"min": 0.6}}) == []


@pytest.mark.parametrize(("content", "reason"), [
    ('{"recall": {"min": 0.5}}', "unknown metric 'recall'; valid metrics: article_hit@1"),
    ('{"answer_accuracy": {"minimum": 0.5}}', "must map to"),
    ('{"answer_accuracy": {"min": "high"}}', "must map to"),
    ("[1]", "expected an object"),
    ("{", "not valid JSON"),
])
def test_bad_thresholds_files(tmp_path, content, reason):
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        gate.load_thresholds(path)


# ---- reports ----------------------------------------------------------------------------
def fake_run(name: str, accuracy: float) -> RunResult:
    rows = [row("q1", {"answer_accuracy": accuracy, "article_recall@10": 1.0}, 5, 50),
            row("q2", {"abstention_recall": 0.0}, 7, 70, kind="unanswerable")]
    return RunResult(name=name, changes={"retrieval": name}, metrics=aggregate(rows), questions=rows)


def test_write_report(tmp_path):
    runs = [fake_run("bm25", 1.0), fake_run("hybrid", 0.0)]
    header = {"dataset": {"name": "fake", "questions": 2}, "config": {"k": 10}, "index": {"index_dir": "/x"}}
    paths = write_report(tmp_path / "out", header=header, runs=runs)
    assert {p.name for p in paths} == {"results.json", "report.md", "recall_at_k.png", "latency.png"}

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results) == {"dataset", "config", "index", "runs"}
    assert list(results["runs"]) == ["bm25", "hybrid"]
    bm25 = results["runs"]["bm25"]
    assert set(bm25["metrics"]) == set(METRIC_KEYS)
    assert bm25["metrics"]["answer_accuracy"] == 1.0
    assert [q["id"] for q in bm25["questions"]] == ["q1", "q2"]
    assert {"retrieved_ids", "answer", "abstained", "scores", "choice", "latency_ms"} <= set(bm25["questions"][0])
    assert bm25["recall_curve"] == [1.0] * 10

    report = (tmp_path / "out" / "report.md").read_text()
    assert "| run | " + " | ".join(KEY_COLUMNS.values()) + " |" in report
    assert "| bm25 | " in report and "| hybrid | " in report
    assert "| answer_accuracy | 1.000 | 0.000 |" in report
    assert "| mc_accuracy | – | – |" in report
    for png in ("recall_at_k.png", "latency.png"):
        data = (tmp_path / "out" / png).read_bytes()
        assert data.startswith(b"\x89PNG") and png in report


def test_the_recall_plots_legend_covers_no_data_line(tmp_path, monkeypatch):
    """Curves that reach every corner of the axes (a weak run low, a strong one high, one
    rising across): the legend sits where no line runs, and inside the saved image."""
    import numpy as np

    from eval.report import plot_recall

    curves = {"bm25": np.linspace(0.05, 0.55, 10), "dense": np.linspace(0.4, 1.0, 10),
              "hybrid": np.full(10, 0.97), "weak": np.full(10, 0.03), "rising": np.linspace(0.02, 0.99, 10)}
    runs = [RunResult(name=name, changes={}, metrics={}, questions=[
        replace(row("q1", {"article_recall@10": 1.0}, 5, 50), recall_curve=tuple(float(v) for v in curve))])
        for name, curve in curves.items()]
    figures = []
    monkeypatch.setattr("eval.report.plt.close", figures.append)  # keep the figure to measure it
    plot_recall(tmp_path, runs)
    [fig] = figures
    ax = fig.axes[0]
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    for line in ax.get_lines():
        x, y = line.get_xdata(), line.get_ydata()
        fine = np.linspace(0, len(x) - 1, 20 * len(x))  # the segments between the points too
        points = ax.transData.transform(np.column_stack([np.interp(fine, range(len(x)), x),
                                                         np.interp(fine, range(len(y)), y)]))
        assert not any(legend.contains(px, py) for px, py in points), f"the legend covers {line.get_label()}'s line"
    assert fig.bbox.x0 <= legend.x0 and legend.x1 <= fig.bbox.x1, "the legend runs off the figure"


def dated_run(*dates: str | None) -> RunResult:
    """Four questions asked on ``dates``; grouping by kind (who: q1, q3) differs from grouping by month."""
    scores = [
        {"article_hit@10": 1.0, "article_recall@10": 1.0, "article_mrr@10": 1.0, "answer_in_context@10": 1.0,
         "answer_accuracy": 1.0},
        {"article_hit@10": 1.0, "article_recall@10": 0.5, "article_mrr@10": 0.25, "answer_in_context@10": 0.0,
         "answer_accuracy": 0.0},
        {"article_hit@10": 0.0, "article_recall@10": 0.0, "article_mrr@10": 0.0, "answer_in_context@10": 1.0,
         "answer_accuracy": 1.0},
        {"abstention_recall": 1.0},
    ]
    kinds = ("who", "what", "who", "unanswerable")
    rows = [row(f"q{i}", s, 5, 50, kind=kind, as_of=d)
            for i, (s, kind, d) in enumerate(zip(scores, kinds, dates, strict=True), 1)]
    return RunResult(name="hybrid", changes={}, metrics=aggregate(rows), questions=rows)


def test_report_breaks_down_by_month_asked(tmp_path, monkeypatch):
    monkeypatch.setattr("eval.report.MIN_MONTH_QUESTIONS", 1)
    run = dated_run("2023-02-03", "2023-01-20", "2023-01-05", None)
    months = by_month(run.questions, MONTH_COLUMNS)
    assert list(months) == ["2023-01", "2023-02", "undated"]
    # 2023-01 holds q2 and q3: accuracy (0 + 1) / 2, MRR (0.25 + 0) / 2.
    assert months["2023-01"]["n"] == 2
    assert (months["2023-01"]["answer_accuracy"], months["2023-01"]["article_mrr@10"]) == (0.5, 0.125)

    write_report(tmp_path, header={"dataset": {"name": "fake"}}, runs=[run])
    report = (tmp_path / "report.md").read_text()
    section = report.split("## By month asked: hybrid\n\n")[1].split("\n\n")[0].splitlines()
    assert section == [
        "| month | n | " + " | ".join(MONTH_COLUMNS) + " |",
        "|" + "|".join("---" for _ in range(len(MONTH_COLUMNS) + 2)) + "|",
        "| 2023-01 | 2 | 0.500 | 0.500 | – | – | – | 0.250 | 0.125 | 0.500 |",
        "| 2023-02 | 1 | 1.000 | 1.000 | – | – | – | 1.000 | 1.000 | 1.000 |",
        "| undated | 1 | – | – | – | 1.000 | – | – | – | – |",
    ]
    assert report.index("## By question kind: hybrid") < report.index("## By month asked: hybrid")
    assert "by_month" not in json.loads((tmp_path / "results.json").read_text())["runs"]["hybrid"]


def test_report_leaves_out_the_month_table_for_a_single_month(tmp_path):
    write_report(tmp_path, header={}, runs=[dated_run("2023-01-05", "2023-01-20", "2023-01-31", None)])
    report = (tmp_path / "report.md").read_text()
    assert "## By question kind: hybrid" in report
    assert "By month asked" not in report


def test_report_leaves_out_the_month_table_when_months_are_too_small(tmp_path):
    # Three months of one or two questions each (like the sample's few dated questions) say nothing.
    write_report(tmp_path, header={}, runs=[dated_run("2023-01-05", "2023-02-20", "2023-03-31", "2023-03-01")])
    assert "By month asked" not in (tmp_path / "report.md").read_text()


# ---- the command line -------------------------------------------------------------------
def test_cli_rejects_unknown_variants_and_gate_off_sample(quiz_folder, tmp_path, capsys):
    assert cli.main(["eval", "--dataset", str(quiz_folder), "--compare", "bm25,nope"]) == 2
    assert "valid: bm25, dense, hybrid" in capsys.readouterr().err
    assert cli.main(["eval", "--dataset", str(quiz_folder), "--gate"]) == 2
    assert "--gate" in capsys.readouterr().err
    assert cli.main(["eval", "--dataset", str(quiz_folder), "--limit", "0"]) == 2


@pytest.mark.slow
@pytest.mark.skipif(not (SAMPLE_QUESTIONS.exists() and SAMPLE_ARTICLES.exists()), reason="sample data not yet written")
def test_eval_end_to_end_on_the_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSDESK_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    rc = cli.main(["eval", "--dataset", "sample", "--out", str(out), "--compare", "bm25,hybrid", "--limit", "8"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "recall@10" in printed and "bm25" in printed and "hybrid" in printed

    results = json.loads((out / "results.json").read_text())
    assert list(results["runs"]) == ["bm25", "hybrid"]
    assert results["dataset"]["questions"] == 8
    assert "api_key" not in results["config"]["generator"]
    for run in results["runs"].values():
        assert set(run["metrics"]) == set(METRIC_KEYS)
        assert len(run["questions"]) == 8
        assert run["metrics"]["article_recall@10"] is not None
        assert run["metrics"]["latency_p50_ms"] > 0 and run["metrics"]["index_build_seconds"] > 0
        assert all(len(q["retrieved_ids"]) <= 10 for q in run["questions"])
    first_build = results["index"]
    assert not first_build["up_to_date"]
    for name in ("report.md", "recall_at_k.png", "latency.png"):
        assert (out / name).stat().st_size > 0

    # A second run reuses the index and reports the build time its manifest recorded.
    # The reader's and the follow-up decision's options reach the runs (they once did not).
    assert cli.main(["eval", "--dataset", "sample", "--out", str(out), "--compare", "bm25", "--limit", "1",
                     "--reader", "none", "--followup", str(FOLLOWUP_MODEL), "--no-conflicts"]) == 0
    second = json.loads((out / "results.json").read_text())
    read = second["config"]["read"]
    assert (read["reader"], second["config"]["followup"], read["conflicts"]) == (None, str(FOLLOWUP_MODEL), False)
    assert results["config"]["read"]["reader"] == results["config"]["followup"] == "bundled"
    again = second["index"]
    assert again["up_to_date"] and again["index_dir"] == first_build["index_dir"]
    assert again["build_seconds"] == pytest.approx(first_build["build_seconds"], abs=5.0)
