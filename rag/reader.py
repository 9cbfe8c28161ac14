"""The trained reader: which of the sentences read answers the question.

Two parts, trained on the RealTimeQA training split by ``newsdesk train-reader`` and shipped
in ``rag/models/reader/`` (its ``MODEL_CARD.md`` says how and with what figures):

- a **cross-encoder**, MiniLM-L6 fine-tuned to read the question with a candidate sentence and
  its headline, exported to int8 ONNX and run with ONNX Runtime (no PyTorch at answer time);
- a **combiner** (LightGBM), which joins the cross-encoder's score with the hand-set
  answerer's signals (term coverage, embedding similarity, answer type, position) into one
  score per sentence. The hand-set weights were guesses; these are learned.

The cross-encoder reads only the ``cross_encoder_top`` best sentences by the hand-set score
(it costs ~2 ms a sentence); the rest keep a missing score, which the combiner was trained
with. A folder's ``manifest.json`` holds every file's SHA-256: a missing or damaged file
fails with an error naming it.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from index.errors import ModelNotAvailableError
from index.store import file_sha256 as sha256
from index.tokenize import terms
from rag.choice import OPTION_FEATURES
from rag.coverage import coverage
from rag.question import answer_kind
from rag.reading import Reading, ScoredSentence
from rag.rerank import RANK_FEATURES

BUNDLED_READER = Path(__file__).parent / "models" / "reader"
MANIFEST = "manifest.json"
CHOOSER = "chooser.txt"
RANKER = "ranker.txt"
FORMAT = "newsdesk-reader/1"
_TYPES = {None: 0, "date": 1, "number": 2, "name": 3, "place": 4}
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w'’-]+")
_DIGITS = re.compile(r"\d[\d,.]*")

# The combiner's inputs, in order (the manifest stores this list: a mismatch is refused).
FEATURES = (
    "lexical", "dense", "article_coverage", "typed", "numbers", "score", "score_rank", "score_gap",
    "in_top", "read_position", "article_rank", "chunk_number", "sentence_offset", "length",
    "own_coverage", "new_names", "new_numbers", "answer_type", "question_terms", "candidates",
    "quoted", "name_articles", "name_titles", "number_articles", "ce", "ce_rank", "ce_gap",
)
_CALENDAR = frozenset("january february march april may june july august september october november december "
                      "monday tuesday wednesday thursday friday saturday sunday".split())


def pair_text(title: str, sentence: str) -> str:
    """What the cross-encoder reads beside the question: the headline sets the story."""
    return f"{title.strip()} | {sentence.strip()}" if title and title.strip() else sentence.strip()


def base_features(reading: Reading) -> np.ndarray:
    """One row per candidate of ``reading.scored`` (in its order), every column of
    :data:`FEATURES` but the three cross-encoder ones (left NaN)."""
    scored = reading.scored
    out = np.full((len(scored), len(FEATURES)), np.nan, dtype=np.float32)
    if not scored:
        return out
    question_words = {w.lower() for w in re.findall(r"[\w'’-]+", reading.question)}
    question_terms = set(terms(reading.question))
    kind = _TYPES[answer_kind(reading.question)]
    article_rank: dict[str, int] = {}
    for p in reading.read[: reading.n_top]:
        article_rank.setdefault(p.article_id, len(article_rank))
    best = scored[0].score
    # Redundancy: the answer to a news question tends to recur across the stories read (and
    # in their headlines), while the words around it vary. Per name or number the sentence
    # adds to the question: the share of the articles read that mention it.
    articles: dict[str, tuple[set[str], set[str]]] = {}
    for p in reading.read:
        text_words, title_words = articles.setdefault(p.article_id, (set(), set()))
        text_words.update(w.lower() for w in re.findall(r"[\w'’&-]+", f"{p.title} {p.text}"))
        title_words.update(w.lower() for w in re.findall(r"[\w'’&-]+", p.title))
    n_articles = max(1, len(articles))

    def spread(words: set[str]) -> tuple[float, float]:
        if not words:
            return 0.0, 0.0
        in_text = max(sum(w in t for t, _ in articles.values()) for w in words)
        in_title = max(sum(w in h for _, h in articles.values()) for w in words)
        return in_text / n_articles, in_title / n_articles

    for i, s in enumerate(scored):
        p = reading.read[s.evidence.passage]
        text = s.evidence.text
        own = coverage(reading.weights, {t: 1.0 for t in terms(text)})
        names = sum(1 for m in _CAPITALISED.finditer(text) if m.group().lower() not in question_words)
        numbers = sum(1 for m in _DIGITS.finditer(text) if m.group() not in reading.question)
        chunk = p.chunk_id.rpartition("#")[2]
        new_names = {m.group().lower() for m in _CAPITALISED.finditer(text)} - question_words - _CALENDAR
        new_numbers = {m.group().rstrip(".,") for m in _DIGITS.finditer(text)} - question_words
        name_text, name_title = spread(new_names)
        out[i, 21:24] = (name_text, name_title, spread(new_numbers)[0])
        out[i, :21] = (
            s.lexical, s.dense, s.article, float(s.typed), float(s.numbers), s.score, i, best - s.score,
            float(s.evidence.passage < reading.n_top), s.evidence.passage,
            article_rank.get(p.article_id, reading.n_top), float(chunk) if chunk.isdigit() else 0.0,
            math.log1p(s.evidence.start), len(text), own, names, numbers, kind, len(question_terms),
            len(scored), float(any(q in text for q in "\"“”")),
        )
    return out


def add_cross_encoder(features: np.ndarray, ce: np.ndarray, scored_rows: np.ndarray) -> np.ndarray:
    """``features`` with the cross-encoder columns filled for ``scored_rows`` (its scores
    ``ce``, their rank among them, and the gap to their best); other rows stay NaN."""
    out = features.copy()
    if len(scored_rows):
        col = FEATURES.index("ce")
        order = np.argsort(-ce, kind="stable")
        rank = np.empty(len(ce), dtype=np.float32)
        rank[order] = np.arange(len(ce))
        out[scored_rows, col] = ce
        out[scored_rows, col + 1] = rank
        out[scored_rows, col + 2] = ce.max() - ce
    return out


@dataclass(frozen=True)
class ReaderManifest:
    """What ``manifest.json`` in a reader folder says."""

    files: dict[str, str]  # name -> sha256
    features: tuple[str, ...]
    cross_encoder_top: int
    max_tokens: int
    second_margin: float
    chooser_features: tuple[str, ...] | None = None  # None: the folder has no chooser
    ranker_features: tuple[str, ...] | None = None  # None: the folder has no article ranker

    @classmethod
    def read(cls, folder: Path) -> ReaderManifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
            return cls(files=dict(data["files"]), features=tuple(data["features"]),
                       cross_encoder_top=int(data["cross_encoder_top"]), max_tokens=int(data["max_tokens"]),
                       second_margin=float(data["second_margin"]),
                       chooser_features=tuple(data["chooser_features"]) if "chooser_features" in data else None,
                       ranker_features=tuple(data["ranker_features"]) if "ranker_features" in data else None)
        except FileNotFoundError:
            raise ModelNotAvailableError(f"Reader folder {folder} has no {MANIFEST}; give a folder made by "
                                         "`newsdesk train-reader`, or --reader none") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelNotAvailableError(f"Reader manifest {path} is damaged ({exc}); retrain with "
                                         "`newsdesk train-reader` or use --reader none") from None


class Reader:
    """Scores the candidate sentences of a :class:`~rag.reading.Reading`.

    Args:
        folder: a reader folder (``manifest.json``, ``model.onnx``, ``tokenizer.json``,
            ``combiner.txt``, ``combiner-lexical.txt``, and optionally ``chooser.txt`` for
            ``choose`` and ``ranker.txt`` for retrieval's rerank); default the bundled one.
        use_cross_encoder: False leaves the cross-encoder out and ranks with the lexical
            combiner (trained without it), for ``newsdesk eval --compare`` to show what it adds.
    """

    def __init__(self, folder: str | Path | None = None, *, use_cross_encoder: bool = True) -> None:
        self.folder = Path(folder) if folder is not None else BUNDLED_READER
        self.use_cross_encoder = use_cross_encoder
        self.manifest = ReaderManifest.read(self.folder)
        if self.manifest.features != FEATURES:
            raise ModelNotAvailableError(
                f"Reader {self.folder} was trained on other features than this version of Newsdesk computes; "
                "retrain it with `newsdesk train-reader` or use --reader none")
        if self.manifest.chooser_features not in (None, OPTION_FEATURES):
            raise ModelNotAvailableError(
                f"Reader {self.folder}'s chooser was trained on other option features than this version of "
                "Newsdesk computes; retrain it with `newsdesk train-reader` or use --reader none")
        if self.manifest.ranker_features not in (None, RANK_FEATURES):
            raise ModelNotAvailableError(
                f"Reader {self.folder}'s article ranker was trained on other features than this version of "
                "Newsdesk computes; retrain it with `newsdesk train-reader` or use --reader none")
        self._lock = threading.Lock()  # the tokenizer keeps padding state per call

    def verify(self) -> None:
        """Check every file against the manifest's SHA-256 now (a damaged file is named)."""
        for name, digest in self.manifest.files.items():
            path = self.folder / name
            if not path.is_file():
                raise ModelNotAvailableError(f"Reader file {path} is missing; reinstall Newsdesk, retrain with "
                                             "`newsdesk train-reader`, or use --reader none")
            if sha256(path) != digest:
                raise ModelNotAvailableError(
                    f"Reader file {path} is damaged (its SHA-256 does not match {self.folder / MANIFEST}); "
                    "reinstall or retrain it, or use --reader none")

    def load(self) -> None:
        """Verify and load both parts now, so a bad folder fails at start, not at a question."""
        self.verify()
        _ = self.combiner, self.chooser, self.ranker
        if self.use_cross_encoder:
            _ = self.session

    @cached_property
    def combiner(self):  # noqa: ANN201 - rag.trees.Trees (or lightgbm.Booster)
        from rag.trees import load_booster  # not lightgbm itself: its import costs a second

        name = "combiner.txt" if self.use_cross_encoder else "combiner-lexical.txt"
        return load_booster(self.folder / name)

    @cached_property
    def chooser(self):  # noqa: ANN201 - rag.trees.Trees (or lightgbm.Booster), or None when the folder has none
        """The option ranker ``choose`` uses (``chooser.txt``), or None."""
        if self.manifest.chooser_features is None:
            return None
        from rag.trees import load_booster

        return load_booster(self.folder / CHOOSER)

    @cached_property
    def ranker(self):  # noqa: ANN201 - rag.trees.Trees (or lightgbm.Booster), or None when the folder has none
        """The article ranker retrieval's rerank uses (``ranker.txt``), or None."""
        if self.manifest.ranker_features is None:
            return None
        from rag.trees import load_booster

        return load_booster(self.folder / RANKER)

    def rank_articles(self, features: np.ndarray) -> np.ndarray:
        """A score per rerank candidate from its :data:`~rag.rerank.RANK_FEATURES` row
        (undated articles' NaN ages are given as -1, as in training)."""
        return np.asarray(self.ranker.predict(np.nan_to_num(features, nan=-1.0)), dtype=np.float64)

    def choose(self, features: np.ndarray) -> list[float]:
        """A share per option (softmax of the chooser's scores) from its
        :data:`~rag.choice.OPTION_FEATURES` rows."""
        values = np.asarray(self.chooser.predict(features), dtype=np.float64)
        e = np.exp(values - values.max())
        return [float(v) for v in e / e.sum()]

    @cached_property
    def tokenizer(self):  # noqa: ANN201 - tokenizers.Tokenizer
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.enable_truncation(self.manifest.max_tokens, strategy="longest_first")
        tok.enable_padding()
        return tok

    @cached_property
    def session(self):  # noqa: ANN201 - onnxruntime.InferenceSession
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 2
        return ort.InferenceSession(str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def cross_encoder_scores(self, question: str, texts: list[str]) -> np.ndarray:
        """The cross-encoder's logit for each (question, text) pair."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            encoded = self.tokenizer.encode_batch([(question, t) for t in texts])
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        wanted = {i.name for i in self.session.get_inputs()}
        out = self.session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)[:, 0]

    def features(self, reading: Reading) -> np.ndarray:
        """:func:`base_features` with the cross-encoder's columns for the top candidates."""
        x = base_features(reading)
        if not self.use_cross_encoder or not reading.scored:
            return x
        rows = np.arange(min(self.manifest.cross_encoder_top, len(reading.scored)))
        texts = [pair_text(reading.read[reading.scored[i].evidence.passage].title, reading.scored[i].evidence.text)
                 for i in rows]
        return add_cross_encoder(x, self.cross_encoder_scores(reading.question, texts), rows)

    def scores(self, reading: Reading) -> np.ndarray:
        """The combiner's score for each candidate (higher: more likely to hold the answer)."""
        if not reading.scored:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.combiner.predict(self.features(reading)), dtype=np.float32)

    def rank(self, reading: Reading) -> tuple[list[ScoredSentence], list[float]]:
        """The candidates best first by the reader, with their scores."""
        values = self.scores(reading)
        order = np.argsort(-values, kind="stable")
        return [reading.scored[i] for i in order], [float(values[i]) for i in order]

    def second_bar(self, best: float) -> float:
        """A second sentence joins the answer when its score reaches this (from the manifest)."""
        return best - self.manifest.second_margin
