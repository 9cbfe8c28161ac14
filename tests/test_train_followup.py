"""``python -m eval.train_followup``: the made-up turns, and a small run that writes a model
folder the assistant accepts (the real run is the command in the model card)."""

from __future__ import annotations

import json
import random

import pytest

from eval.train_followup import lead, shortened, terse, without_names
from rag.assistant import SAMPLE_ARTICLES

PREVIOUS = "Biden visits Kenya. President Biden arrived in Nairobi on Monday for talks [1]"


def test_names_the_previous_turn_said_become_pronouns() -> None:
    assert without_names("Which country did President Biden visit this week?", PREVIOUS) == \
        "Which country did they visit this week?"
    assert without_names("What did Kenya Airways announce?", "Kenya Airways cuts flights") == "What did they announce?"
    assert without_names("Who won the Ljubljana Marathon?", "Kiprono wins the Ljubljana Marathon") == "Who won it?"
    assert without_names("What did Biden's envoy say?", PREVIOUS) == "What did their envoy say?"
    assert without_names("Who won the Ljubljana Marathon?", "Ljubljana Marathon", pronouns=False) == "Who won?"
    # Names the previous turn did not say, and the question's first word, stay.
    assert without_names("Which company bought Twitter?", PREVIOUS) is None


def test_a_terse_follow_up_keeps_only_what_the_last_turn_did_not_say() -> None:
    assert terse("Which country did President Biden visit after Nairobi?", PREVIOUS) == \
        "Which country did they after it?"
    assert terse("Biden Kenya Nairobi?", PREVIOUS) is None  # nothing of its own left


def test_a_short_question_keeps_its_first_word_and_rarest_words() -> None:
    idf = {"court": 1.0, "rule": 1.0, "griner": 9.0, "detain": 2.0, "week": 0.5, "star": 1.5}.get
    short = shortened("A court this week ruled that star Griner will be detained?", lambda t: idf(t, 1.0),
                      random.Random(3))
    assert short.startswith("A ") and "Griner" in short and short.endswith("?")
    assert shortened("Who is Griner?", lambda t: 1.0, random.Random(3)) is None


def test_the_lead_is_the_first_full_sentence() -> None:
    text = "Home | News\n\nThe council approved the new harbour bridge on Monday after a long debate. More text."
    assert lead(text) == "The council approved the new harbour bridge on Monday after a long debate."


def _quarter(folder, articles: list[dict], questions: list[tuple[str, str, str]]) -> None:  # noqa: ANN001
    folder.mkdir(parents=True)
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    by_id = {a["id"]: a for a in articles}
    quiz = [{"id": f"{folder.name}-{i}", "question": q, "choices": [answer, "none of these"], "answer": answer,
             "date": "2025/08/01", "source": "test", "gold_urls": [by_id[gold]["url"]]}
            for i, (q, answer, gold) in enumerate(questions)]
    (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in quiz))


@pytest.mark.slow
def test_a_small_run_writes_a_model_the_assistant_takes(tmp_path, sample_assistant) -> None:
    from eval.train_followup import run
    from rag.followup import FollowupModel

    articles = [json.loads(line) for line in SAMPLE_ARTICLES.read_text().splitlines()]
    _quarter(tmp_path / "data" / "q1", articles[:27], [
        ("Who did Colonel General Hasanov meet at IDEF 2025 in Istanbul?", "Haluk Görgün", "idef-2025-hasanov-gorgun"),
        ("How many exhibitors took part in IDEX 2025 in Abu Dhabi?", "1,565", "idex-2025-abu-dhabi-closes"),
        ("Who did Norvik Robotics name as its chief executive?", "Ingrid Solberg", "norvik-robotics-new-ceo")])
    _quarter(tmp_path / "data" / "q2", articles[27:], [
        ("How many miners died in the Potrerillos Alto copper mine collapse?", "Twelve",
         "potrerillos-mine-collapse-andina"),
        ("Which company agreed to buy the Maltese shipping firm Meridian Lines?", "Corsa Holdings",
         "meridian-lines-sale-corsa")])
    manifest = run(tmp_path / "data", tmp_path / "work", tmp_path / "model", progress=False)
    trained = manifest["trained_on"]
    assert trained["quarters"] == ["q1", "q2"] and trained["rows_by_kind"]["named"] == 5
    assert trained["rows_by_kind"]["new-topic"] == 5 and trained["rows"] >= 15
    assert set(manifest["leave_one_quarter_out"]["by_quarter"]) == {"q1", "q2"}
    model = FollowupModel(tmp_path / "model")
    trained_assistant = sample_assistant.with_config(followup=str(tmp_path / "model"))
    assert trained_assistant.followup.folder == model.folder
    answer = trained_assistant.ask("What did they discuss?", history=[("Who did Hasanov meet at IDEF 2025?",
                                                                      "Haluk Görgün [1]")])
    assert answer.query  # decided by the small model, whichever way
    # A rerun reads the cached rows and writes the same model.
    again = run(tmp_path / "data", tmp_path / "work", tmp_path / "model2", progress=False)
    assert again["sha256"] == manifest["sha256"]
