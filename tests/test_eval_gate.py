"""The regression gate: the full sample question set must stay at or above the measured
figures in eval/thresholds.json (see eval/README.md for how they were set)."""

import json

import pytest

from newsdesk.cli import main

pytestmark = pytest.mark.slow


def test_sample_question_set_passes_the_gate(sample_assistant, tmp_path, capsys):
    code = main(["eval", "--dataset", "sample", "--gate", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0, out.out[-3000:] + out.err[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["runs"]) == {"hybrid"}
