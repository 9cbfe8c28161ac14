"""The one configuration object (rag/config.py): nested by stage, overridable field by field,
validated where it is made, every field documented in docs/configuration.md."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from rag.config import OPTIONS, STAGES, Config, ReadSettings, config_from_options

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_at_most_twenty_top_level_fields():
    assert len(dataclasses.fields(Config)) <= 20


def test_a_dict_changes_only_the_fields_it_names():
    config = Config(k=5, read={"min_support": 0.5})
    assert config.read == ReadSettings(min_support=0.5)
    again = config.replace(read={"sentences": 1})
    assert (again.read.min_support, again.read.sentences, again.k) == (0.5, 1, 5)
    dotted = config.replace(**{"retrieve.mode": "bm25", "rerank.articles": 0})
    assert (dotted.retrieve.mode, dotted.rerank.articles, dotted.read.min_support) == ("bm25", 0, 0.5)
    assert config.retrieve.mode == "hybrid"  # the original is unchanged (frozen)


@pytest.mark.parametrize(("changes", "message"), [
    ({"read": {"min_suport": 0.5}}, r"unknown read setting\(s\) \['min_suport'\]; valid: .*min_support"),
    ({"retrieve.mode": "sparse"}, r"retrieve.mode must be one of \('hybrid', 'dense', 'bm25'\), got 'sparse'"),
    ({"k": 0}, r"k must be between 1 and 100, got 0"),
    ({"rerank.articles": -1}, r"rerank.articles must be a non-negative integer, got -1"),
    ({"read.min_support": 2}, r"read.min_support must be in \[0, 1\], got 2"),
    ({"generator.deadline": 0}, r"generator.deadline must be a positive number of seconds, got 0"),
    ({"nosuch": 1}, r"unknown config field\(s\) \['nosuch'\]"),
])
def test_a_bad_value_is_named_with_what_is_valid(changes, message):
    with pytest.raises(ValueError, match=message):
        Config().replace(**changes)


def test_command_line_options_set_their_stage_fields():
    config = config_from_options({"retrieval": "bm25", "rerank": 0, "llm_model": "m", "reader": "NONE",
                                  "backend_url": "milvus-lite:///x.db", "model": "hash-64", "index": "/ignored",
                                  "unrelated": 1, "k": None})
    assert (config.retrieve.mode, config.rerank.articles, config.generator.model) == ("bm25", 0, "m")
    assert (config.read.reader, config.engine, config.index.model, config.k) == (None, "milvus-lite:///x.db",
                                                                                "hash-64", 10)
    for option, target in OPTIONS.items():  # every option names a real setting
        stage, _, name = target.partition(".")
        assert hasattr(Config(), stage) and (not name or hasattr(getattr(Config(), stage), name)), option


def test_docs_list_every_setting():
    documented = set(re.findall(r"^\| `([\w.]+)`", DOCS.read_text(), re.M))
    settings = {f.name for f in dataclasses.fields(Config) if f.name not in STAGES}
    for stage, kind in STAGES.items():
        settings |= {f"{stage}.{f.name}" for f in dataclasses.fields(kind)}
    assert settings - documented == set(), "settings missing from docs/configuration.md"
    assert documented - settings == set(), "docs/configuration.md lists settings that do not exist"
