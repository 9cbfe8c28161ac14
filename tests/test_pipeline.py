"""The answer path's stages (rag/pipeline.py), run on the bundled sample's real index."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from index.filters import Filters
from rag.pipeline import NO_MATCH_TEXT, Draft, run_stages

QUESTION = "Who did Hasanov meet at IDEF 2025?"
IDEF = "idef-2025-hasanov-gorgun"


def _draft(text: str = QUESTION, **changes) -> Draft:
    return replace(Draft(text=text, filters=Filters(as_of=date.today()), k=5), **changes)


def test_each_stage_fills_in_its_part_and_leaves_its_input_as_it_was(sample_assistant):
    state = sample_assistant._fresh()
    understand, retrieve = state.stages
    draft = _draft()
    understood = understand.run(draft)
    assert draft.question is None and understood.question is not None  # a new draft; the old one unchanged
    assert understood.question.asks_who and understood.rewrite is None and not understood.passages
    found = retrieve.run(understood)
    assert found.query == QUESTION and len(found.passages) == 5 and found.passages[0].article_id == IDEF
    answers = list(state.compose.run(found))
    assert answers[-1].citations[0].article_id == IDEF and "Görgün" in answers[-1].text


def test_the_sources_come_first_then_the_answer(sample_assistant):
    """Streaming follows the stages: the passages when retrieval is done, then the written answer
    (the offline answer is not cut into pieces)."""
    first, *rest = list(sample_assistant.stream(QUESTION))
    assert first.text == "" and not first.citations and first.passages and first.passages[0].article_id == IDEF
    assert len(rest) == 1 and rest[0].text == sample_assistant.ask(QUESTION).text


def test_filters_that_leave_nothing_end_the_path_at_understand(sample_assistant):
    state = sample_assistant._fresh()
    draft = _draft(filters=Filters(as_of=date.today(), sources=("no-such-source.example",)))
    answers = list(run_stages(state.stages, state.compose, draft))
    assert len(answers) == 1 and answers[0].abstained and answers[0].text == NO_MATCH_TEXT
    assert any("no-such-source.example" in w for w in answers[0].warnings)


def test_a_follow_up_carries_the_conversation_into_its_rewrite(sample_assistant):
    history = ((QUESTION, sample_assistant.ask(QUESTION).text),)
    state = sample_assistant._fresh()
    understand, retrieve = state.stages
    understood = understand.run(_draft("What did they discuss?", history=history))
    rewrite = understood.rewrite or ""
    assert rewrite.startswith("What did they discuss?") and "Hasanov" in rewrite
    found = retrieve.run(understood)
    assert found.query in (understood.text, understood.rewrite)
    assert IDEF in {p.article_id for p in found.passages}
