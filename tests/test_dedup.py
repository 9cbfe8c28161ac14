"""Story groups (index/dedup.py): copies of one story are grouped, other stories are not, and
the groups stay right through incremental adds and removals and in the index on disk."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from wire import other_report, wire_copies

from index import dedup
from index.build import add_articles, remove_articles, write_collection
from index.errors import IndexCorruptError
from index.records import Article
from index.store import IndexStore, current_version
from tests.conftest import rewrite_manifest


def _groups(stories: dedup.Stories) -> list[set[str]]:
    return sorted((set(m) for m in stories.members().values()), key=min)


def test_a_wire_story_on_five_sites_with_other_furniture_and_edits_is_one_group():
    copies = wire_copies()
    stories = dedup.group_stories(copies)
    assert _groups(stories) == [{a.id for a in copies}]


def test_two_different_stories_on_the_same_event_are_not_grouped():
    # The separate report shares the event, the names and two quoted statements with the wire story.
    stories = dedup.group_stories([*wire_copies(), other_report()])
    assert stories.group_of["feature-valmora-pickets"] == "feature-valmora-pickets"
    assert len(_groups(stories)) == 1 and "feature-valmora-pickets" not in _groups(stories)[0]


def test_a_yearly_story_written_to_the_same_template_is_not_a_copy():
    # Same text with other figures, a year apart: the far-apart bar (FAR_SIMILARITY) keeps them apart.
    a = wire_copies()[0]
    text = a.text
    for old, new in (("4,200", "4,900"), ("3 percent", "4 percent"), ("37 cargo", "52 cargo"),
                     ("600 jobs", "750 jobs"), ("2019, lasted nine days", "2025, lasted three weeks"),
                     ("Monday", "Tuesday"), ("eighteen months", "two years"), ("Ilse Marquand", "Henrik Dahl"),
                     ("contingency crews", "skeleton crews"), ("freight forwarders", "shipping agents")):
        text = text.replace(old, new)
    b = replace(a, id="next-year", date=date(2026, 3, 2), text=text, content_hash="")
    sa, sb = dedup.signature(a.text), dedup.signature(b.text)
    assert dedup.SIMILARITY <= dedup.similarity(sa, sb) < dedup.FAR_SIMILARITY
    assert not dedup.same_story(a, b, sa, sb)
    assert dedup.same_story(a, replace(b, date=a.date), sa, sb)  # the same edits within days: an update


def test_one_text_under_unrelated_headlines_is_a_placeholder_not_a_story():
    wall = ("We will use the details you have shared to manage your registration. You agree to the processing, "
            "storage, sharing and use of this information for the purpose of managing your registration as "
            "described in our Privacy Policy. Would you like to receive our daily newsletter? " * 2)
    pages = [Article(id=f"p{i}", title=t, text=wall, source="weekly.example")
             for i, t in enumerate(["The SNP in crisis", "Japan's million-yen idea", "Who leads the net zero group?"])]
    stories = dedup.group_stories(pages)
    assert stories.members() == {}
    assert dedup.placeholders(pages) == {"p0", "p1", "p2"}


def test_a_shared_text_under_headlines_with_no_word_in_common_is_not_a_story():
    a, b = wire_copies()[:2]
    b = replace(b, title="NFL Week 9 preview: how to watch", content_hash="")
    assert not dedup.same_story(a, b, dedup.signature(a.text), dedup.signature(b.text))


def test_short_texts_are_never_grouped():
    a = Article(id="s1", title="Port strike", text="Dock workers went on strike on Monday.")
    b = replace(a, id="s2")
    assert dedup.group_stories([a, b]).members() == {}


def test_incremental_grouping_signs_only_new_articles_and_matches_a_full_regroup():
    copies, other = wire_copies(), other_report()
    first = dedup.group_stories(copies[:2] + [other])
    assert first.signed == 3
    grown = dedup.group_stories(copies + [other], previous=first)
    assert grown.signed == 3  # only the three new copies
    full = dedup.group_stories(copies + [other])
    assert grown.group_of == full.group_of and grown.pairs == full.pairs
    # A changed article (same id, other text) is signed again and leaves its group.
    unrelated = " ".join(f"The museum reopened gallery {i} after repairs." for i in range(30))
    changed = replace(copies[4], text=unrelated, content_hash="")
    after = dedup.group_stories(copies[:4] + [changed, other], previous=grown)
    assert after.signed == 1
    assert after.group_of[changed.id] == changed.id
    assert after.group_of == dedup.group_stories(copies[:4] + [changed, other]).group_of


def test_removing_the_bridge_of_a_chain_splits_its_group():
    # a~b and b~c but a and c too far apart to match: removing b must split the group.
    base = wire_copies()[0]
    words = base.text.split()
    half = len(words) // 2
    a = replace(base, id="a", text=" ".join(words[:half + 40]), content_hash="")
    b = replace(base, id="b", content_hash="")
    c = replace(base, id="c", text=" ".join(words[half - 40:]), content_hash="")
    chained = dedup.group_stories([a, b, c])
    assert len({chained.group_of[x] for x in "abc"}) == 1, chained.pairs
    assert ("a", "c") not in chained.pairs
    split = dedup.group_stories([a, c], previous=chained)
    assert split.signed == 0 and split.group_of == {"a": "a", "c": "c"}


def test_stories_are_stored_in_the_index_and_kept_right_by_add_and_remove(tmp_path, hash_embedder):
    copies, other = wire_copies(), other_report()
    report = write_collection(tmp_path, copies[:3] + [other], embedder=hash_embedder, progress=False)
    assert (report.story_groups, report.grouped_articles, report.signed_articles) == (1, 3, 4)
    assert "Story groups: 3 articles are copies or versions of 1 story (4 articles signed)" in report.summary()
    store = IndexStore.load(tmp_path)
    version = current_version(tmp_path)
    manifest = json.loads((version / "manifest.json").read_text())
    assert "stories.npz" in manifest["checksums"] and manifest["stories"] == dedup.params()
    assert store.stories.members() == {"wire-apnews.com": ["wire-apnews.com", "wire-sfgate.com", "wire-wtop.com"]}

    added = add_articles(tmp_path, copies[3:], embedder=hash_embedder, progress=False)
    assert added.signed_articles == 2 and added.grouped_articles == 5
    store = IndexStore.load(tmp_path)
    row = store.article_row["wire-wtop.com"]
    assert sorted(store.articles[r].id for r in store.copies(row)) == sorted(
        a.id for a in copies if a.id != "wire-wtop.com")
    assert store.copies(store.article_row[other.id]) == []

    removed = remove_articles(tmp_path, ["wire-apnews.com"], embedder=hash_embedder)
    assert removed.signed_articles == 0 and removed.grouped_articles == 4
    assert "wire-apnews.com" not in IndexStore.load(tmp_path).stories.group_of


def test_a_changed_stories_file_is_damage(tmp_path, hash_embedder):
    write_collection(tmp_path, wire_copies(), embedder=hash_embedder, progress=False)
    path = current_version(tmp_path) / "stories.npz"
    with np.load(path) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    data["pairs"] = data["pairs"][:0]
    np.savez(path, **data)
    with pytest.raises(IndexCorruptError, match="stories.npz"):
        IndexStore.load(tmp_path)


def test_an_index_without_stored_stories_groups_them_when_loaded(tmp_path, hash_embedder):
    # Indexes written before story groups were stored (or with other parameters) group on load.
    write_collection(tmp_path, wire_copies(), embedder=hash_embedder, progress=False)
    rewrite_manifest(tmp_path, lambda m: {**m, "stories": {**m["stories"], "similarity": 0.9}})
    store = IndexStore.load(tmp_path)
    assert len(store.stories.members()) == 1 and store.stories.signed == 5


def test_cli_lists_the_story_groups(tmp_path, hash_embedder, capsys):
    from newsdesk.cli import main

    write_collection(tmp_path, [*wire_copies(), other_report()], embedder=hash_embedder, progress=False)
    assert main(["index", "stories", "--index", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 story group holds 5 of 6 articles")
    assert "2025-03-03  wtop.com  Thousands of Valmora port workers walk off the job  [wire-wtop.com]" in out
    assert "feature-valmora-pickets" not in out


def test_new_articles_are_paired_with_the_stored_ones_as_the_lsh_table_pairs_them(monkeypatch):
    from index.load import load_articles

    articles = sorted([*wire_copies(), other_report(), *load_articles(["index/sample/articles.jsonl"]).articles],
                      key=lambda a: a.id)
    base = dedup.group_stories([a for a in articles if not a.id.startswith("wire-w")])
    banded = dedup.group_stories(articles, previous=base)  # a few new ones: bands compared in numpy
    assert banded.signed == sum(a.id.startswith("wire-w") for a in articles) and banded.pairs
    monkeypatch.setattr(dedup, "BANDED_PAIRS", 0)  # the same through the LSH table
    assert dedup.group_stories(articles, previous=base).pairs == banded.pairs
    assert dedup.group_stories(articles).pairs == banded.pairs  # and as a build from scratch pairs them
