"""The trained reader: its features, its folder checks, and the shipped model in the pipeline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.errors import ModelNotAvailableError
from rag.config import Config, config_from_options
from rag.reader import BUNDLED_READER, FEATURES, MANIFEST, Reader, add_cross_encoder, base_features, pair_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reading(sample_assistant):
    return sample_assistant.read("Who did Hasanov meet at IDEF 2025?")


def test_features_cover_every_candidate_in_order(reading):
    x = base_features(reading)
    assert x.shape == (len(reading.scored), len(FEATURES))
    col = {name: i for i, name in enumerate(FEATURES)}
    assert np.all(x[:, col["score_rank"]] == np.arange(len(reading.scored)))
    assert np.allclose(x[:, col["score"]], [s.score for s in reading.scored])
    # the cross-encoder columns are missing until it has read the sentence
    assert np.isnan(x[:, col["ce"]]).all()
    filled = add_cross_encoder(x, np.array([0.5, 2.0], dtype=np.float32), np.array([0, 1]))
    assert filled[1, col["ce_rank"]] == 0 and filled[0, col["ce_gap"]] == pytest.approx(1.5)
    assert np.isnan(filled[2:, col["ce"]]).all()


def test_pair_text_puts_the_headline_first():
    assert pair_text("Minister visits fair", "He met the chairman.") == "Minister visits fair | He met the chairman."
    assert pair_text("", "He met the chairman.") == "He met the chairman."


@pytest.mark.parametrize("use_cross_encoder", [False, True])
def test_bundled_reader_is_verified_and_picks_the_answer(reading, use_cross_encoder):
    reader = Reader(use_cross_encoder=use_cross_encoder)
    reader.load()
    ranked, scores = reader.rank(reading)
    assert len(ranked) == len(reading.scored) and scores == sorted(scores, reverse=True)
    # The answering sentence is among the reader's best three (it puts the story's lead, with
    # the names of the visit, first). With its cross-encoder, among the best four: since the IDF
    # prior the IDEX story's lead ranks above it (docs/records/evaluation.md, fifth pass), though on the
    # whole sample that mode answers better with the prior (0.802) than without (0.753).
    best = 4 if use_cross_encoder else 3
    assert any("Görgün" in s.evidence.text for s in ranked[:best])
    x = reader.features(reading)
    ce = x[:, FEATURES.index("ce")]
    if use_cross_encoder:  # the model read the top sentences by the hand-set score, and only those
        top = min(reader.manifest.cross_encoder_top, len(ce))
        assert np.isfinite(ce[:top]).all() and np.isnan(ce[top:]).all()
    else:
        assert np.isnan(ce).all()


def test_the_default_pipeline_uses_the_bundled_reader(sample_assistant):
    assert Config().read.reader == "bundled"
    assert sample_assistant.reader is not None and sample_assistant.reader.folder == BUNDLED_READER
    assert "Görgün" in sample_assistant.ask("Who did Hasanov meet at IDEF 2025?").text
    plain = sample_assistant.with_config(read={"reader": None})
    assert plain.reader is None and not plain.ask("Who did Hasanov meet at IDEF 2025?").abstained


def test_reader_none_from_the_command_line():
    assert config_from_options({"reader": "none"}).read.reader is None
    assert config_from_options({"reader_cross_encoder": True}).read.reader_cross_encoder
    assert not Config().read.reader_cross_encoder
    assert config_from_options({"reader": "/some/folder"}).read.reader == "/some/folder"
    assert config_from_options({}).read.reader == "bundled"


@pytest.fixture
def copied(tmp_path) -> Path:
    folder = tmp_path / "reader"
    shutil.copytree(BUNDLED_READER, folder)
    return folder


def test_a_damaged_file_is_named(copied):
    with open(copied / "combiner.txt", "ab") as fh:
        fh.write(b"\n# tampered\n")
    with pytest.raises(ModelNotAvailableError, match=r"combiner\.txt is damaged"):
        Reader(copied).load()


def test_a_missing_file_is_named(copied):
    (copied / "model.onnx").unlink()
    with pytest.raises(ModelNotAvailableError, match=r"model\.onnx is missing"):
        Reader(copied).load()


def test_choose_uses_the_chooser_and_without_a_reader_the_hand_set_votes(sample_assistant):
    question, choices = "Who did Hasanov meet at IDEF 2025?", ["Haluk Görgün", "Irakli Chikovani", "Ilham Aliyev"]
    with_reader = sample_assistant.choose(question, choices)
    hand = sample_assistant.with_config(read={"reader": None}).choose(question, choices)
    for c in (with_reader, hand):
        assert c.choice == "Haluk Görgün" and c.citations
        assert "Görgün" in c.citations[0].quote
        assert abs(sum(c.scores.values()) - 1) < 1e-6
    assert with_reader.scores != hand.scores  # the trained chooser weighs the evidence its own way


def test_without_a_chooser_the_hand_and_reader_votes_count_alike():
    from rag.choice import Tally

    t = Tally(choices=["a", "b"], hand=[3.0, 1.0], hand_evidence=[None, None], reader=[1.0, 1.0])
    assert t.mixed() == [0.625, 0.375]
    assert Tally(choices=["a", "b"], hand=[3.0, 1.0], hand_evidence=[None, None]).mixed() == [0.75, 0.25]


def test_a_folder_without_manifest_or_with_other_features_is_refused(copied, tmp_path):
    with pytest.raises(ModelNotAvailableError, match="has no manifest.json"):
        Reader(tmp_path)
    manifest = json.loads((copied / MANIFEST).read_text())
    manifest["features"] = manifest["features"][:-1]
    (copied / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelNotAvailableError, match="other features"):
        Reader(copied)
    (copied / MANIFEST).write_text("[]")
    with pytest.raises(ModelNotAvailableError, match="damaged"):
        Reader(copied)


def test_a_ranker_trained_on_other_features_is_refused(copied):
    manifest = json.loads((copied / MANIFEST).read_text())
    manifest["ranker_features"] = manifest["ranker_features"][:-1]
    (copied / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelNotAvailableError, match="article ranker was trained on other features"):
        Reader(copied)


def test_retrieval_uses_the_bundled_article_ranker_and_without_a_reader_none(sample_assistant):
    from rag.rerank import RANK_FEATURES

    assert sample_assistant.reader.ranker is not None
    state = sample_assistant._state
    assert state.retriever.ranker is not None
    assert sample_assistant.with_config(read={"reader": None})._state.retriever.ranker is None
    question = "Who did Hasanov meet at IDEF 2025?"
    filters = sample_assistant._filters(None, None, None, None)  # as ``search`` sets them: as of today
    articles, features = state.retriever.rerank_candidates(question, filters=filters)
    assert features.shape == (len(articles), len(RANK_FEATURES)) and len(articles) > 1
    hits = sample_assistant.search(question, k=5)
    assert hits[0].article_id == "idef-2025-hasanov-gorgun"
    # The passages come in the ranker's order, with its scores.
    scores = sample_assistant.reader.rank_articles(features)
    best = [state.store.articles[articles[i]].id for i in np.argsort(-scores, kind="stable")[:5]]
    assert [p.article_id for p in hits] == best
    assert [round(p.score, 6) for p in hits] == [round(float(s), 6) for s in sorted(scores, reverse=True)[:5]]


def test_a_bad_reader_path_fails_when_the_assistant_is_made(sample_assistant, tmp_path):
    with pytest.raises(ModelNotAvailableError):
        sample_assistant.with_config(read={"reader": str(tmp_path / "nowhere")})
