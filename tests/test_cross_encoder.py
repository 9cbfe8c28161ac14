"""The optional cross-encoder stage, with a tiny real cross-encoder written to disk by the test
(random weights: the tests check that its scores decide the order, not that they are wise)."""

import json
import time

import numpy as np
import pytest

from index.errors import ModelNotAvailableError
from newsdesk.cli import main
from rag.config import Config
from rag.cross_encoder import CrossEncoderReranker
from rag.records import Passage

pytestmark = pytest.mark.slow
QUESTION = "Who did Hasanov meet at IDEF 2025?"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A one-layer BERT cross-encoder with the bundled model's tokenizer, saved as a folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from index.embed import resolve_model
    from index.settings import DEFAULT_MODEL

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))
    model = BertForSequenceClassification(BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, num_labels=1))
    with torch.no_grad():  # spread the scores so that their order is not decided by rounding
        model.classifier.weight.mul_(50.0)
    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _passages(n: int) -> list[Passage]:
    topics = ["harbour bridge opens", "central bank raises rates", "marathon record falls", "museum reopens",
              "wildfire forces evacuations", "chess final drawn", "ferry goes electric", "Hasanov meets Görgün"]
    return [Passage(article_id=f"a{i}", title=topics[i % len(topics)], url="", source="", date=None,
                    text=f"Story {i}: the {topics[i % len(topics)]} this week.", start=0, end=10,
                    score=1.0 - i / 10, chunk_id=f"a{i}#0") for i in range(n)]


def test_top_passages_follow_the_model_and_the_rest_keep_their_place(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, device="cpu")
    passages = _passages(8)
    out = reranker.run(QUESTION, passages, top=5)
    expected = reranker.model.predict([(QUESTION, f"{p.title}\n{p.text}") for p in passages[:5]],
                                      show_progress_bar=False)
    assert [p.article_id for p in out[:5]] == [passages[i].article_id for i in np.argsort(-expected, kind="stable")]
    assert [p.article_id for p in out[:5]] != [p.article_id for p in passages[:5]]  # the model did reorder
    assert [p.score for p in out[:5]] == pytest.approx(sorted(expected.tolist(), reverse=True), abs=1e-6)
    assert out[5:] == passages[5:]
    assert reranker.run(QUESTION, [], top=5) == []


def test_a_missing_model_fails_fast_with_a_clear_error(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(ModelNotAvailableError, match="nothing is downloaded"):
        CrossEncoderReranker(str(tmp_path / "no-such-model")).load()
    with pytest.raises(ModelNotAvailableError, match="Could not load cross-encoder"):
        CrossEncoderReranker("nobody/not-a-cached-model").load()
    assert time.perf_counter() - t0 < 30  # offline: no download attempt to wait for


def test_config_checks_the_cross_encoder_settings():
    assert Config().rerank.cross_encoder is None  # off by default: none ships with Newsdesk
    with pytest.raises(ValueError, match="cross_encoder must be"):
        Config(rerank={"cross_encoder": ""})
    with pytest.raises(ValueError, match="cross_encoder_top"):
        Config(rerank={"cross_encoder_top": 0})


def test_search_reorders_the_deeper_list_on_the_real_sample(sample_assistant, tiny_cross_encoder):
    crossed = sample_assistant.with_config(rerank={"cross_encoder": tiny_cross_encoder, "cross_encoder_top": 12})
    plain = sample_assistant.search(QUESTION, k=12)
    top = crossed.search(QUESTION, k=5)
    scores = crossed.cross_encoder.scores(QUESTION, plain)
    best = [plain[i].chunk_id for i in np.argsort(-scores, kind="stable")[:5]]
    assert [p.chunk_id for p in top] == best
    # The model is shared by copies with the same setting and dropped by those without it.
    assert crossed.with_config(k=3).cross_encoder is crossed.cross_encoder
    assert crossed.with_config(rerank={"cross_encoder": None}).cross_encoder is None
    answer = crossed.ask(QUESTION)
    assert answer.passages[0].chunk_id == best[0]  # the answer reads what the model put first


def test_cli_takes_a_cross_encoder_and_reports_a_bad_one(sample_assistant, tiny_cross_encoder, capsys):
    assert main(["ask", QUESTION, "--json", "--cross-encoder", tiny_cross_encoder, "--cross-encoder-top", "8"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passages"]
    assert main(["ask", QUESTION, "--cross-encoder", "/no/such/cross-encoder"]) == 1
    assert "Could not load cross-encoder '/no/such/cross-encoder'" in capsys.readouterr().err


def test_eval_runs_with_and_without_the_cross_encoder(sample_assistant, tiny_cross_encoder, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["eval", "--dataset", "sample", "--limit", "3", "--out", str(out), "--cross-encoder",
                 tiny_cross_encoder, "--compare", "hybrid,hybrid-crossencoder"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["rerank"]["cross_encoder"] == tiny_cross_encoder
    runs = results["runs"]
    assert "rerank.cross_encoder" not in runs["hybrid"]["changes"]
    assert runs["hybrid-crossencoder"]["changes"]["rerank.cross_encoder"] is None
    # The random model reorders what the plain pipeline finds.
    ids = {name: [q["retrieved_ids"] for q in run["questions"]] for name, run in runs.items()}
    assert ids["hybrid"] != ids["hybrid-crossencoder"]
