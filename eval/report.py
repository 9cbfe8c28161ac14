"""Writing a run's results: the console table, ``results.json``, ``report.md`` and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, and safe in threads and CI
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from eval.scoring import CURVE_KS, METRIC_KEYS, UNDATED, RunResult, by_kind, by_month  # noqa: E402

# The columns of the side-by-side tables: metric key -> short header.
KEY_COLUMNS = {
    "article_hit@10": "hit@10",
    "article_recall@10": "recall@10",
    "article_mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "story_recall@10": "story rec@10",
    "story_mrr@10": "story MRR@10",
    "copy_slots@10": "copy slots",
    "answer_in_context@10": "ans∈ctx@10",
    "answer_accuracy": "accuracy",
    "answer_f1": "F1",
    "mc_accuracy": "MC acc",
    "abstention_recall": "abstain rec",
    "false_abstention_rate": "false abstain",
    "citation_precision": "cite prec",
    "kept_as_asked": "kept as asked",
    "follow_up_accuracy": "follow-ups",
    "conflict_shown": "differ shown",
    "false_conflict_rate": "false differ",
    "search_latency_p50_ms": "search p50 ms",
    "latency_p50_ms": "ask p50 ms",
    "latency_p95_ms": "ask p95 ms",
}
KIND_COLUMNS = ("article_hit@10", "answer_accuracy", "mc_accuracy", "abstention_recall", "false_abstention_rate")
DIFFER_COLUMNS = ("conflict_shown", "false_conflict_rate")  # per kind only: the conflict questions are one kind
MONTH_COLUMNS = (*KIND_COLUMNS, "article_recall@10", "article_mrr@10", "answer_in_context@10")
# A month makes a row worth reading with this many questions; the table needs two such months.
MIN_MONTH_QUESTIONS = 10
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"
RECALL_PLOT = "recall_at_k.png"
LATENCY_PLOT = "latency.png"


def fmt(value: float | None, key: str = "") -> str:
    """A metric value for a table: ratios with 3 decimals, times and rates with 1, '–' when unmeasured."""
    if value is None:
        return "–"
    if key.endswith("_ms") or key in ("index_build_seconds", "chunks_per_second"):
        return f"{value:,.1f}"
    return f"{value:.3f}"


def summary_table(runs: Sequence[RunResult]) -> str:
    """The runs side by side as aligned plain text: one row per run, key metrics as columns."""
    header = ["run", *KEY_COLUMNS.values()]
    rows = [[r.name, *(fmt(r.metrics.get(k), k) for k in KEY_COLUMNS)] for r in runs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def _group_table(label: str, groups: Mapping[str, Mapping[str, float | None]], keys: Sequence[str]) -> list[str]:
    return _md_table([label, "n", *keys], [[name, f"{v['n']:.0f}", *(fmt(v[k], k) for k in keys)]
                                           for name, v in groups.items()])


def write_results(out_dir: Path, *, header: Mapping, runs: Sequence[RunResult]) -> Path:
    """``results.json``: ``{"dataset", "config", ..., "runs": {name: {"metrics", "questions", ...}}}``."""
    data = {**header, "runs": {r.name: r.to_dict() for r in runs}}
    path = out_dir / RESULTS_FILE
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def write_markdown(out_dir: Path, *, header: Mapping, runs: Sequence[RunResult]) -> Path:
    """``report.md``: runs side by side, the full metric table, per-kind and per-month breakdowns and the plots."""
    dataset = header.get("dataset", {})
    index = header.get("index", {})
    lines = [f"# Newsdesk evaluation: {dataset.get('name', '?')}", ""]
    lines.append(f"{dataset.get('questions', '?')} questions; index `{index.get('index_dir', '?')}` "
                 f"({index.get('chunks', '?')} chunks).")
    machine = header.get("machine")
    if machine:
        lines.append(f"Measured on {machine.get('platform')} with {machine.get('cpus')} CPUs, {machine.get('date')}.")
    lines += ["", "## Runs side by side", ""]
    lines += _md_table(["run", *KEY_COLUMNS.values()],
                       [[r.name, *(fmt(r.metrics.get(k), k) for k in KEY_COLUMNS)] for r in runs])
    lines += ["", "## All metrics", ""]
    lines += _md_table(["metric", *(r.name for r in runs)],
                       [[key, *(fmt(r.metrics.get(key), key) for r in runs)] for key in METRIC_KEYS])
    for r in runs:
        lines += ["", f"## By question kind: {r.name}", ""]
        kind_columns = (*KIND_COLUMNS, *DIFFER_COLUMNS)
        lines += _group_table("kind", by_kind(r.questions, kind_columns), kind_columns)
        # RealTimeQA's dev set has no held-out collection, so a per-month split is the closest
        # check that the figures hold across time slices; one month alone says nothing.
        months = by_month(r.questions, MONTH_COLUMNS)
        if sum(v["n"] >= MIN_MONTH_QUESTIONS for name, v in months.items() if name != UNDATED) >= 2:
            lines += ["", f"## By month asked: {r.name}", ""]
            lines += _group_table("month", months, MONTH_COLUMNS)
    lines += ["", "## Plots", "", f"![article recall@k]({RECALL_PLOT})", "", f"![latency]({LATENCY_PLOT})", ""]
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def recall_figure(runs: Sequence[RunResult]) -> plt.Figure:
    """The figure of :func:`plot_recall`. Its legend stands to the right of the axes: recall
    curves run from the lower left to the upper right, and inside the axes every corner of the
    legend sat on some run's line."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for r in runs:
        curve = r.recall_curve
        points = [(k, v) for k, v in zip(CURVE_KS, curve, strict=True) if v is not None]
        if points:
            ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=r.name)
    ax.set(xlabel="k (passages)", ylabel="article recall@k", ylim=(0, 1.02), xticks=list(CURVE_KS),
           title="Article recall@k")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")
    fig.tight_layout()
    return fig


def plot_recall(out_dir: Path, runs: Sequence[RunResult]) -> Path:
    """Mean article recall@k for k = 1..10, one line per run (:func:`recall_figure`)."""
    fig = recall_figure(runs)
    path = out_dir / RECALL_PLOT
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend outside the axes stays in the file
    plt.close(fig)
    return path


def plot_latency(out_dir: Path, runs: Sequence[RunResult]) -> Path:
    """Box plots of search and ask latency per run."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=False)
    for ax, attr, title in ((axes[0], "search_ms", "search"), (axes[1], "latency_ms", "ask")):
        data = [[getattr(q, attr) for q in r.questions] or [0.0] for r in runs]
        ax.boxplot(data, tick_labels=[r.name for r in runs], showfliers=True)
        ax.set(title=f"{title} latency", ylabel="ms")
        ax.grid(alpha=0.3, axis="y")
    path = out_dir / LATENCY_PLOT
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(out_dir: str | Path, *, header: Mapping, runs: Sequence[RunResult]) -> list[Path]:
    """Write ``results.json``, ``report.md`` and the two PNG plots into ``out_dir`` (created).

    Args:
        out_dir: the report folder.
        header: what the run was: ``dataset``, ``config``, ``index`` (JSON-ready dicts).
        runs: one result per variant, in the order asked for.

    Returns:
        The paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_results(out, header=header, runs=runs), write_markdown(out, header=header, runs=runs),
            plot_recall(out, runs), plot_latency(out, runs)]
