"""``rag.followup``: the trained follow-up decision, its features and its model folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag import followup
from rag.followup import FEATURES, FollowupModel, FollowupModelError
from rag.query import with_context

ALTAMIRA = [("How much revenue did Altamira report?",
             "Altamira Semiconductors reported second-quarter revenue of $4.1 billion on Wednesday [1]")]
HASANOV = [("Who did Hasanov meet at IDEF 2025?",
            "During the visit, Colonel General Hasanov held a meeting with Haluk Görgün, Chairman of the Defense "
            "Industry Committee under the Presidency of the Republic of Türkiye [1]")]


def _row(assistant, question: str, history) -> tuple[np.ndarray, list, list]:  # noqa: ANN001
    state = assistant._fresh()
    filters = assistant._filters(None, None, None, None)
    rewrite = with_context(question, history)
    alone = state.retrieve.search(question, 10, filters)
    rewritten = state.retrieve.search(rewrite, 10, filters)
    return state.retrieve.followup_features(question, rewrite, history, alone, rewritten), alone, rewritten


def test_features_say_what_each_search_found(sample_assistant) -> None:
    named, alone, rewritten = _row(sample_assistant, "Who did Ingrid Solberg succeed?", ALTAMIRA)
    row = dict(zip(FEATURES, named.tolist()))
    assert len(named) == len(FEATURES)
    assert alone[0].article_id == "norvik-robotics-new-ceo"
    assert row["alone_own"] > 0.5 and row["rewrite_own"] < row["alone_own"]  # the rewrite lost "Solberg"
    assert row["pronoun"] == 0 and row["own_terms"] == 3
    follow = dict(zip(FEATURES, _row(sample_assistant, "What did they discuss?", HASANOV)[0].tolist()))
    assert follow["pronoun"] == 1 and follow["own_terms"] == 1
    assert follow["rewrite_carried"] > 0.5 and follow["history_cos"] == pytest.approx(follow["history_cos"])


def test_the_bundled_model_tells_a_new_topic_from_a_follow_up(sample_assistant) -> None:
    model = sample_assistant.followup
    assert model is not None and model.folder == followup.BUNDLED
    new, _, _ = _row(sample_assistant, "Who did Ingrid Solberg succeed?", ALTAMIRA)
    follow, _, _ = _row(sample_assistant, "What did they discuss?", HASANOV)
    assert model.probability(new) < model.threshold <= model.probability(follow)


def test_a_description_that_points_back_is_a_follow_up(sample_assistant) -> None:
    # Only "the company" points back. A known miss until the IDF prior changed the IDF that the
    # trained decision reads (docs/records/evaluation.md, fifth pass).
    vaccine = [("What efficacy did Respiva show in its late-stage trial?",
                "In a late-stage trial involving about 24,000 participants in 14 countries, Respiva showed an "
                "efficacy of 83.7% against RSV lower respiratory tract disease during the first season [1]")]
    answer = sample_assistant.ask("Who is the company's chief executive?", history=vaccine)
    assert "Respiva" in answer.query


def test_the_trained_decision_is_the_only_one(sample_assistant) -> None:
    """The hand-set rule it replaced left the product: no setting turns the decision off."""
    with pytest.raises(ValueError, match="followup must be 'bundled' or a follow-up model folder"):
        sample_assistant.config.replace(followup=None)
    with pytest.raises(ValueError, match="followup must be"):
        sample_assistant.config.replace(followup="")


@pytest.fixture
def model_copy(tmp_path):
    folder = tmp_path / "followup"
    shutil.copytree(followup.BUNDLED, folder)
    return folder


def test_a_model_folder_is_checked_before_use(model_copy, tmp_path) -> None:
    assert FollowupModel(model_copy).manifest["features"] == list(FEATURES)
    with pytest.raises(FollowupModelError, match="no manifest.json"):
        FollowupModel(tmp_path)
    (model_copy / "model.txt").write_text((model_copy / "model.txt").read_text() + "\n")
    with pytest.raises(FollowupModelError, match="checksum"):
        FollowupModel(model_copy)


def test_a_model_trained_on_other_features_is_refused(model_copy) -> None:
    manifest = json.loads((model_copy / "manifest.json").read_text())
    manifest["features"] = manifest["features"][:-1]
    (model_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FollowupModelError, match="other features"):
        FollowupModel(model_copy)


def test_config_and_cli_select_the_model(model_copy) -> None:
    from rag.config import Config, config_from_options

    assert Config().followup == "bundled"
    assert config_from_options({"followup": str(model_copy)}).followup == str(model_copy)
    with pytest.raises(ValueError, match="followup must be"):
        Config(followup="")


def test_the_cli_refuses_a_bad_model_folder_in_one_line(tmp_path, capsys) -> None:
    from newsdesk import cli

    assert cli.main(["ask", "--followup", str(tmp_path), "Who did Hasanov meet at IDEF 2025?"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path} is not a follow-up model folder (no manifest.json)"]
