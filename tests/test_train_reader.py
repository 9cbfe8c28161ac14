"""``newsdesk train-reader``: the pure steps, and a smoke run of the whole pipeline on a tiny
slice of the shared training split (the real run is the command in the model card)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from eval.reader_data import MinedQuestion, label, quarters
from eval.train_reader import TrainSettings, split_quarters, training_groups

TRAIN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "realtimeqa-train"


def _mined(labels: list[int], gold: list[int]) -> MinedQuestion:
    return MinedQuestion(id="q", quarter="x", question="Who won?", answers=["Ann Lee"], features=[],
                         labels=labels, texts=[f"c{i}" for i in range(len(labels))],
                         gold_texts=[f"g{i}" for i in range(len(gold))], gold_labels=gold)


def test_every_third_quarter_trains_the_combiner():
    names = [f"q{i}" for i in range(7)]
    ce, comb = split_quarters(names, 3)
    assert comb == {"q2", "q5"} and ce == set(names) - comb
    assert split_quarters(["only"], 3) == ({"only"}, {"only"})  # a user's one folder trains both


def test_groups_hold_one_positive_first_then_negatives():
    settings = TrainSettings(group=4, hard_negatives=2, positives=2)
    groups = training_groups([_mined([0, 1, 0, 0, 1, 0], [1, 0])], settings, random.Random(1))
    assert len(groups) == 2
    for question, texts in groups:
        assert question == "Who won?" and len(texts) == 4
        assert texts[0] in {"c1", "c4", "g0"}
        assert not set(texts[1:]) & {"c1", "c4", "g0"}
        assert {"c0", "c2"} <= set(texts[1:])  # the hand-set scorer's best wrong sentences


def test_a_question_without_any_answer_sentence_teaches_nothing():
    assert training_groups([_mined([0, 0, 0], [0])], TrainSettings(), random.Random(1)) == []


def test_labels_use_the_accuracy_rule():
    assert label("The prize went to Ann Lee on Friday.", ["Ann Lee"]) == 1
    assert label("Annie Leeds won.", ["Ann Lee"]) == 0


def test_quarters_finds_folders_or_refuses(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no articles.jsonl"):
        quarters(tmp_path)
    (tmp_path / "a").mkdir()
    for name in ("articles.jsonl.gz", "questions.jsonl.gz"):
        (tmp_path / "a" / name).write_bytes(b"")
    assert quarters(tmp_path) == [tmp_path / "a"]


@pytest.mark.slow
@pytest.mark.skipif(not TRAIN.is_dir(), reason=f"the shared training split is not at {TRAIN}")
def test_smoke_run_trains_a_loadable_reader(tmp_path, sample_assistant):
    from eval.train_reader import train
    from rag.reader import Reader

    settings = TrainSettings(epochs=1, time_budget_s=20.0, trees=10, combiner_every=2)
    record = train(TRAIN, tmp_path / "reader", tmp_path / "work", settings=settings, limit=6, max_quarters=2,
                   progress=False)
    assert record["questions"] == 12 and record["cross_encoder"]["steps"] >= 1
    assert len(record["cross_encoder_quarters"]) == 1 and len(record["combiner_quarters"]) == 1
    reader = Reader(tmp_path / "reader")
    reader.load()
    ranked, scores = reader.rank(sample_assistant.read("Who did Hasanov meet at IDEF 2025?"))
    assert ranked and scores == sorted(scores, reverse=True)
    assert (tmp_path / "reader" / "MODEL_CARD.md").is_file()
    # The chooser learned from the quarters' options and ``choose`` uses it.
    assert record["chooser"]["questions"] >= 6 and reader.chooser is not None
    trained = sample_assistant.with_config(read={"reader": str(tmp_path / "reader")})
    pick = trained.choose("Who did Hasanov meet at IDEF 2025?", ["Haluk Görgün", "Ilham Aliyev"])
    assert abs(sum(pick.scores.values()) - 1) < 1e-6 and pick.citations
    # The article ranker learned from the quarters' gold articles and retrieval uses it.
    assert record["ranker"]["questions"] >= 1 and reader.ranker is not None
    hits = trained.search("Who did Hasanov meet at IDEF 2025?", k=5)
    assert hits and hits == sorted(hits, key=lambda p: -p.score)


@pytest.mark.slow
@pytest.mark.skipif(not TRAIN.is_dir(), reason=f"the shared training split is not at {TRAIN}")
def test_retraining_from_cold_with_the_same_seed_writes_the_same_model(tmp_path):
    """Two runs with nothing cached (each builds its own indexes, mines, fine-tunes, exports and
    fits) write byte-identical model files: the seed fixes everything."""
    import json

    from eval.train_reader import train

    settings = TrainSettings(epochs=1, time_budget_s=900.0, trees=10, combiner_every=2)  # no cut by time
    for run in ("a", "b"):
        train(TRAIN, tmp_path / run / "reader", tmp_path / run / "work", settings=settings, limit=6, max_quarters=2,
              progress=False)
    files = json.loads((tmp_path / "a" / "reader" / "manifest.json").read_text())["files"]
    assert set(files) >= {"model.onnx", "combiner.txt", "combiner-lexical.txt", "chooser.txt", "ranker.txt"}
    assert files == json.loads((tmp_path / "b" / "reader" / "manifest.json").read_text())["files"]
