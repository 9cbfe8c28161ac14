"""The trained follow-up decision: is a question with a history a follow-up (search it
rewritten with the conversation's context) or a new topic (search it as asked)?

Both searches run (:func:`rag.query.resolve`); :func:`decision_features` describes what each
found: how much of the question's own words and of the carried words their top passages
hold, how close in meaning the question is to each and to the last turn. A small LightGBM
model (``rag/models/followup/``), trained on conversations made from the training split's
real quiz questions (``python -m eval.train_followup``), turns those into the probability that
the rewrite is the right search. The folder's manifest names the features and the checksum
of the model, so a model trained on other features is refused rather than read wrongly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.tokenize import terms
from rag.coverage import coverage
from rag.records import Passage

BUNDLED = Path(__file__).parent / "models" / "followup"
MODEL_FILE = "model.txt"
FORMAT = "newsdesk-followup/1"
# Above this probability the rewrite is searched. The made-up training turns are mostly
# questions that name their subject, so the model's probabilities of real chat follow-ups run
# low; 0.05 was chosen on the bundled conversation sets (conversations, -heldout, -heldout2:
# 123 turns, the best of 0.02-0.5), where new topics score 0.002-0.03 (docs/records/evaluation.md).
THRESHOLD = 0.05
RIVALS = 3  # the question's own top passages compared with the rewrite's top one
PRONOUNS = frozenset("they them their he him his she her it its that this those these there then".split())

FEATURES = (
    "own_terms",        # the question's own (stemmed) terms
    "pronoun",          # 1 when it holds a word that may point back ("they", "its", "there")
    "own_rarity",       # their mean IDF over the largest IDF (a term no chunk holds)
    "alone_own",        # share (by IDF) of its own terms the top passage searched as asked holds
    "rewrite_own",      # the same for the rewrite's top passage
    "alone_carried",    # largest share of the carried terms among the top passages as asked
    "rewrite_carried",  # share of the carried terms the rewrite's top passage holds
    "carried_terms",    # how many terms the rewrite adds
    "carried_rarity",   # their mean IDF over the largest IDF
    "alone_cos",        # cosine of the question and its own top passage
    "rewrite_cos",      # cosine of the question and the rewrite's top passage
    "rival_gap",        # alone_cos minus the best cosine of another story's passage
    "rewrite_fit",      # cosine of the rewrite and its top passage
    "same_story",       # 1 when the rewrite's top story is among the question's own top passages
    "history_cos",      # cosine of the question and the last turn (question and answer)
)

Similarity = Callable[[str, Passage], "float | None"]


def _passage_terms(passage: Passage) -> dict[str, float]:
    """Every term of the passage and its headline, as found (for :func:`rag.coverage.coverage`)."""
    return dict.fromkeys([*terms(passage.text), *terms(passage.title)], 1.0)


def _story(passage: Passage) -> set[str]:
    return {passage.article_id, *(c.article_id for c in passage.also)}


def decision_features(question: str, rewrite: str, last_turn: str, alone: Sequence[Passage],
                      rewritten: Sequence[Passage], idf: Callable[[str], float], max_idf: float,
                      similarity: Similarity, text_similarity: Callable[[str, str], float]) -> np.ndarray:
    """The :data:`FEATURES` row for ``question`` searched as asked (``alone``) and as
    ``rewrite`` (``rewritten``); both lists non-empty. ``similarity`` is the cosine of a text
    and a passage (None without a vector), ``text_similarity`` that of two texts."""
    own = set(terms(question))
    carried = set(terms(rewrite)) - own
    own_w = {t: idf(t) for t in own}
    carried_w = {t: idf(t) for t in carried}
    top, other = alone[0], rewritten[0]
    found = [_passage_terms(p) for p in alone[:RIVALS]]
    other_terms = _passage_terms(other)
    alone_cos = similarity(question, top)
    rewrite_cos = similarity(question, other)
    story = _story(top)
    rivals = [similarity(question, p) for p in alone[1:RIVALS] if p.article_id not in story]
    rivals = [r for r in [*rivals, rewrite_cos if other.article_id not in story else None] if r is not None]
    fit = similarity(rewrite, other)
    nan = float("nan")
    row = {
        "own_terms": len(own),
        "pronoun": float(any(w in PRONOUNS for w in question.lower().replace("?", " ").split())),
        "own_rarity": (sum(own_w.values()) / len(own_w) / max_idf) if own_w else 0.0,
        "alone_own": coverage(own_w, found[0]),
        "rewrite_own": coverage(own_w, other_terms),
        "alone_carried": max((coverage(carried_w, f) for f in found), default=0.0),
        "rewrite_carried": coverage(carried_w, other_terms),
        "carried_terms": len(carried),
        "carried_rarity": (sum(carried_w.values()) / len(carried_w) / max_idf) if carried_w else 0.0,
        "alone_cos": nan if alone_cos is None else alone_cos,
        "rewrite_cos": nan if rewrite_cos is None else rewrite_cos,
        "rival_gap": nan if alone_cos is None or not rivals else alone_cos - max(rivals),
        "rewrite_fit": nan if fit is None else fit,
        "same_story": float(bool(_story(other) & {a for p in alone[:RIVALS] for a in _story(p)})),
        "history_cos": text_similarity(question, last_turn) if last_turn else nan,
    }
    return np.asarray([row[name] for name in FEATURES], dtype=np.float32)


class FollowupModelError(ValueError):
    """A follow-up model folder that cannot be used (missing, damaged, other features)."""


class FollowupModel:
    """The trained decision (``model.txt``, a LightGBM booster) with its manifest.

    Args:
        folder: a folder made by ``python -m eval.train_followup`` (default: the bundled one).
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else BUNDLED
        manifest = self.folder / "manifest.json"
        if not manifest.is_file():
            raise FollowupModelError(f"{self.folder} is not a follow-up model folder (no manifest.json)")
        data = json.loads(manifest.read_text())
        if data.get("format") != FORMAT:
            raise FollowupModelError(f"{manifest}: format {data.get('format')!r}, expected {FORMAT!r}")
        if tuple(data.get("features", ())) != FEATURES:
            raise FollowupModelError(f"{self.folder} was trained on other features than this version reads; "
                                     "retrain it with `python -m eval.train_followup`")
        model = self.folder / MODEL_FILE
        digest = hashlib.sha256(model.read_bytes()).hexdigest() if model.is_file() else None
        if digest != data.get("sha256"):
            raise FollowupModelError(f"{model} is missing or does not match its manifest's checksum")
        self.manifest = data
        self.threshold = float(data.get("threshold", THRESHOLD))
        self._booster = None

    @property
    def booster(self):  # noqa: ANN201 - rag.trees.Trees (or lightgbm.Booster), loaded on first use
        if self._booster is None:
            from rag.trees import load_booster  # not lightgbm itself: its import costs a second

            self._booster = load_booster(self.folder / MODEL_FILE)
        return self._booster

    def probability(self, features: np.ndarray) -> float:
        """The probability that the rewrite is the right search, for one :data:`FEATURES` row."""
        return float(self.booster.predict(features.reshape(1, -1))[0])

    def is_follow_up(self, features: np.ndarray) -> bool:
        return self.probability(features) >= self.threshold
