"""``rag.idf_prior``: news-wide counts of common words blended into a small collection's IDF,
its folder's checks, and ``python -m eval.train_idf_prior`` that counts it."""

from __future__ import annotations

import gzip
import json
import math
import shutil

import pytest

from index.tokenize import terms
from rag import idf_prior
from rag.idf_prior import COMMON, IdfPrior, IdfPriorError, blended_idf

ECB = [("What did the ECB decide on 5 June 2025?",
        "It cut its key rates by 25 basis points, taking the deposit facility rate to 2.00% [1]")]
CUTS = "How many cuts has it made since it started lowering rates?"


def test_the_bundled_prior_knows_common_words_from_rare_ones() -> None:
    prior = IdfPrior()
    (made,), (visitor,), (ecb,) = terms("made"), terms("visitors"), terms("ECB")
    assert prior.share(made) > 0.4 and prior.common(made) == prior.share(made)
    assert 0 < prior.share(visitor) < COMMON and prior.common(visitor) == 0.0  # not blended
    assert prior.share(ecb) < 0.01
    assert prior.manifest["articles"] == prior.articles > 20_000


def test_blending_matters_in_a_small_collection_and_not_in_a_large_one() -> None:
    # Weight 0 is BM25's own IDF.
    assert blended_idf(3.0, 90, 0.45, 0.0) == pytest.approx(math.log1p(87.5 / 3.5))
    # In 90 chunks a word in one of them outweighs one in eight; news at large says otherwise.
    assert blended_idf(1.0, 90, 0.0, 0.0) > blended_idf(8.0, 90, 0.0, 0.0)
    assert blended_idf(1.0, 90, 0.45, 100.0) < blended_idf(8.0, 90, 0.17, 100.0)
    # In 40,000 chunks the same pseudo-chunks move a word's IDF by a few hundredths.
    assert abs(blended_idf(12_000.0, 40_000, 0.45, 100.0) - blended_idf(12_000.0, 40_000, 0.0, 0.0)) < 0.01


@pytest.fixture
def prior_copy(tmp_path):
    folder = tmp_path / "idf-prior"
    shutil.copytree(idf_prior.BUNDLED, folder)
    return folder


def test_a_prior_folder_is_checked_before_use(prior_copy, tmp_path) -> None:
    assert IdfPrior(prior_copy).articles == IdfPrior().articles
    with pytest.raises(IdfPriorError, match="no manifest.json"):
        IdfPrior(tmp_path)
    table = prior_copy / idf_prior.TABLE_FILE
    table.write_bytes(table.read_bytes() + b"\0")
    with pytest.raises(IdfPriorError, match="checksum"):
        IdfPrior(prior_copy)


def test_a_prior_counted_with_another_tokenizer_is_refused(prior_copy) -> None:
    manifest = json.loads((prior_copy / "manifest.json").read_text())
    manifest["tokenizer"]["stopwords_sha256"] = "0" * 64
    (prior_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IdfPriorError, match="another tokenizer"):
        IdfPrior(prior_copy)


def test_written_counts_load_back_and_a_recount_gives_the_same_checksum(tmp_path) -> None:
    docs = [terms(t) for t in ["The minister made a statement", "Rates were cut", "The bank made a cut"] * 5]
    n, df = idf_prior.count(docs)
    first = IdfPrior(idf_prior.write(tmp_path / "a", n, df, {"quarters": ["x"]}))
    second = IdfPrior(idf_prior.write(tmp_path / "b", *idf_prior.count(docs), {"quarters": ["x"]}))
    assert first.manifest["sha256"] == second.manifest["sha256"]
    assert first.articles == 15 and first.share("made") == pytest.approx(10 / 15)
    assert first.share("minist") == pytest.approx(5 / 15)
    kept = json.loads(gzip.decompress((tmp_path / "a" / idf_prior.TABLE_FILE).read_bytes()))["df"]
    assert all(count >= idf_prior.MIN_DF for count in kept.values())


def _quarter(folder, articles: list[dict]) -> None:
    folder.mkdir(parents=True)
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    (folder / "questions.jsonl").write_text("")


def test_the_training_command_counts_a_split_and_names_its_quarters(tmp_path, capsys) -> None:
    from eval import train_idf_prior

    body = "The council said on Monday that the harbour bridge would reopen after repairs to its deck. " * 3
    for q in ("2030q1", "2030q2"):
        _quarter(tmp_path / "split" / q, [{"id": f"{q}-{i}", "title": f"Bridge news {i}", "text": f"{body} Item {i}."}
                                          for i in range(6)])
    assert train_idf_prior.main(["--data", str(tmp_path / "split"), "--out", str(tmp_path / "out")]) == 0
    prior = IdfPrior(tmp_path / "out")
    assert prior.articles == 12 and prior.share("bridg") == 1.0
    assert prior.manifest["trained_on"]["quarters"] == ["2030q1", "2030q2"]
    assert "Wrote" in capsys.readouterr().out
    assert train_idf_prior.main(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o2")]) == 2
    assert capsys.readouterr().err.startswith("error: --data")


def test_config_and_cli_select_the_prior(prior_copy, tmp_path, capsys) -> None:
    from newsdesk import cli
    from rag.config import Config, config_from_options

    assert Config().retrieve.idf_prior == "bundled"
    assert config_from_options({"idf_prior": "none"}).retrieve.idf_prior is None
    assert config_from_options({"idf_prior": str(prior_copy)}).retrieve.idf_prior == str(prior_copy)
    with pytest.raises(ValueError, match="idf_prior must be"):
        Config(retrieve={"idf_prior": ""})
    with pytest.raises(ValueError, match="idf_prior_weight"):
        Config(retrieve={"idf_prior_weight": -1})
    assert cli.main(["ask", "--idf-prior", str(tmp_path), "Who did Hasanov meet at IDEF 2025?"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path} is not an IDF prior folder (no manifest.json)"]


@pytest.mark.slow
def test_the_retriever_weighs_a_common_word_by_news_at_large(sample_assistant) -> None:
    plain = sample_assistant.with_config(retrieve={"idf_prior": None})
    with_prior, without = sample_assistant._fresh().retriever, plain._fresh().retriever
    (made,), (cut,), (visitor,) = terms("made"), terms("cuts"), terms("visitors")
    assert without.idf(made) > without.idf(cut)  # the sample's own counts: "made" is the rarer
    assert with_prior.idf(made) < with_prior.idf(cut)
    assert with_prior.idf(visitor) >= without.idf(visitor)  # rare in news: the collection decides


@pytest.mark.slow
def test_a_follow_up_asked_in_common_words_is_answered(sample_assistant) -> None:
    # "made" and "started" are not in the story; by the sample's own counts they were most of
    # what was asked, and the right sentence fell under the abstention bar.
    answer = sample_assistant.ask(CUTS, history=ECB)
    assert not answer.abstained and "eighth cut" in answer.text
    assert sample_assistant.with_config(retrieve={"idf_prior": None}).ask(CUTS, history=ECB).abstained
