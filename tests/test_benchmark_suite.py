"""benchmarks/suite.py end to end on the bundled sample, with small sizes: every stage gives its rows."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _load_suite():  # noqa: ANN202 - the benchmark module
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("suite", ROOT / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_suite_runs_every_stage_on_the_sample(tmp_path, capsys) -> None:
    dataset = tmp_path / "sample"
    dataset.mkdir()
    shutil.copy(ROOT / "index" / "sample" / "articles.jsonl", dataset / "articles.jsonl")
    shutil.copy(ROOT / "eval" / "datasets" / "sample.jsonl", dataset / "questions.jsonl")
    suite = _load_suite()
    work = tmp_path / "work"
    code = suite.main(["--dataset", str(dataset), "--work", str(work), "--embed-chunks", "16", "--rounds", "1",
                       "--sizes", "1000,3000"])
    out = capsys.readouterr().out
    rows = json.loads((work / "suite.json").read_text())
    assert [r["stage"] for r in rows].count("build") == 4
    assert {r["stage"] for r in rows} == set(suite.STAGES)
    # Incremental builds are exact, whatever the machine's speed.
    assert all(r["met"] for r in rows if r["stage"] == "build" and r["target"]), rows
    serve = [r for r in rows if r["stage"] == "serve"]
    assert "95 questions" in serve[0]["measure"] and serve[1]["value"].endswith("MB")
    assert out.count("\n|") == len(rows) + 2  # one table: header, rule, a line per row
    # Only speed figures (the 16-chunk embedding ratio, latencies) may miss their targets here.
    missed = {r["stage"] for r in rows if r["met"] is False}
    assert missed <= {"embed", "latency", "serve"}
    assert code == (1 if missed else 0)
