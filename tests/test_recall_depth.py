"""benchmarks/recall_depth.py on the bundled sample: recall grows with depth and matches eval's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from eval.data import load_dataset

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _load():  # noqa: ANN202 - the benchmark module
    spec = importlib.util.spec_from_file_location("recall_depth", ROOT / "benchmarks" / "recall_depth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recall_by_depth_on_the_sample(sample_assistant) -> None:
    questions = [q for q in load_dataset("sample").questions if q.relevant_ids]
    figures = _load().recall_by_depth(sample_assistant, questions, [1, 5, 10])
    assert list(figures) == [1, 5, 10]
    assert figures[1] <= figures[5] <= figures[10]
    assert figures[10] == pytest.approx(1.0)  # what `newsdesk eval --dataset sample` reports
    assert figures[1] < 1.0  # some questions have more than one relevant article
