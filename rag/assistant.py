"""``Assistant``: the one facade the UI, the evaluation and users' scripts call."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

import index as index_pkg
from index import store as store_mod
from index.backend import SearchBackend, open_backend, sync_live
from index.cache import cache_dir
from index.embed import Embedder
from index.errors import IndexCorruptError, NewsdeskError
from index.filters import Filters, check_range, to_date
from index.records import Article
from index.store import IndexStore
from rag import choice as choice_mod
from rag import followup as followup_mod
from rag.answer import ExtractiveAnswerer, Reading
from rag.cite import number_citations
from rag.config import Config, check_k
from rag.cross_encoder import CrossEncoderReranker
from rag.idf_prior import IdfPrior
from rag.llm_client import resolve_endpoint
from rag.pipeline import Compose, Draft, Retrieve, Understand, run_stages
from rag.query import Turn
from rag.reader import Reader
from rag.records import Answer, Choice, Copy, Passage, Timeline
from rag.retrieve import Retriever

if TYPE_CHECKING:  # index.build and index.load (feed, web archive and HTML readers) load when writing
    from index.build import BuildReport
    from index.load import LoadReport

Backend = Literal["auto", "extractive", "llm"]
SAMPLE_ARTICLES = Path(index_pkg.__file__).parent / "sample" / "articles.jsonl"
MAX_QUESTION_CHARS = 2000
CHOOSE_K = 20  # passages ``choose`` reads by default (its chooser is trained with the same)


def sample_index_dir() -> Path:
    return cache_dir() / "sample-index"


@dataclass(frozen=True)
class Stats:
    """What the collection holds."""

    articles: int
    chunks: int
    date_from: date | None
    date_to: date | None
    undated: int
    sources: int
    model: str
    index_dir: str
    source_names: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "articles": self.articles, "chunks": self.chunks,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "undated": self.undated, "sources": self.sources, "model": self.model, "index_dir": self.index_dir,
            "source_names": list(self.source_names),
        }


class _Loaded:
    """Everything built from one index version; swapped as a whole when the index changes.

    ``stages`` and ``compose`` are the answer path (:mod:`rag.pipeline`): understand, retrieve,
    then compose."""

    def __init__(self, store: IndexStore, embedder: Embedder, config: Config,
                 cross_encoder: CrossEncoderReranker | None, reader: Reader | None,
                 backend: SearchBackend | None, prior: IdfPrior | None,
                 followup: followup_mod.FollowupModel) -> None:
        self.store = store
        ranker = reader.rank_articles if reader is not None and reader.ranker is not None else None
        search = backend.searcher(store) if backend is not None else None
        self.retriever = Retriever(store, embedder, config, cross_encoder, ranker, search, prior)
        self.idf_of = self.retriever.idf
        self.answerer = ExtractiveAnswerer(embedder, self.idf_of, config, reader)
        self.retrieve = Retrieve(self.retriever, store, embedder, config.retrieve, followup)
        self.stages = (Understand(self.retriever.facets), self.retrieve)
        self.compose = Compose(self.answerer, self.retriever, config.read)


class Assistant:
    """Ask questions of a news collection and get cited answers.

    Create one with :meth:`from_index`. Methods are safe to call from many threads; adding
    articles swaps in the new index atomically, and queries in flight finish on the old one.

    Example:
        >>> from rag import Assistant
        >>> assistant = Assistant.from_index()          # the bundled sample collection
        >>> print(assistant.ask("Who did Hasanov meet at IDEF 2025?").text)
    """

    def __init__(self, store: IndexStore, *, config: Config | None = None, embedder: Embedder | None = None,
                 cross_encoder: CrossEncoderReranker | None = None, reader: Reader | None = None,
                 backend: SearchBackend | None = None) -> None:
        self.config = config or Config(index=store.settings)
        s = self.config.index
        self.embedder = embedder or Embedder(s.model, device=s.device, batch_size=s.batch_size,
                                             max_seq_length=s.max_seq_length, backend=s.backend)
        self.cross_encoder = cross_encoder or _cross_encoder(self.config, s.device)
        self.reader = reader or _reader(self.config)
        self.followup = _followup(self.config)
        self.prior = _prior(self.config)
        self._lock = threading.Lock()
        self._unloadable: str | None = None  # a version on disk that failed to load: not retried
        self.backend = backend or _backend(self.config, store)
        self._state = _Loaded(store, self.embedder, self.config, self.cross_encoder, self.reader, self.backend,
                              self.prior, self.followup)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_index(cls, path: str | Path | None = None, *, config: Config | None = None,
                   progress: bool = True) -> Assistant:
        """Open the index at ``path``; no path means the bundled sample collection.

        The sample's index is built on first use (and rebuilt when the sample changes) in the
        per-user cache folder, never inside the installed package.

        Raises:
            IndexCorruptError: no index at ``path``, or its files are damaged.
            IndexMismatchError: the index was built with other settings than ``config.index``.
        """
        config = config or Config()
        if path is None:
            from index.build import build_index

            path = sample_index_dir()
            build_index([SAMPLE_ARTICLES], path, settings=config.index, progress=progress)
        store = IndexStore.load(path, settings=config.index)
        return cls(store, config=config)

    def with_config(self, **changes) -> Assistant:
        """A new assistant on the same index and model with ``changes`` to the config."""
        other = Assistant.__new__(Assistant)
        other.config = self.config.replace(**changes)
        if other.config.index != self.config.index:
            raise ValueError("with_config cannot change index settings; open the index again instead")
        other.embedder = self.embedder
        same_model = self.cross_encoder and self.cross_encoder.name == other.config.rerank.cross_encoder
        other.cross_encoder = self.cross_encoder if same_model else _cross_encoder(other.config,
                                                                                   other.config.index.device)
        same_reader = (self.config.read.reader, self.config.read.reader_cross_encoder) == (
            other.config.read.reader, other.config.read.reader_cross_encoder)
        other.reader = self.reader if same_reader else _reader(other.config)
        other.followup = self.followup if other.config.followup == self.config.followup else _followup(other.config)
        same_prior = other.config.retrieve.idf_prior == self.config.retrieve.idf_prior
        other.prior = self.prior if same_prior else _prior(other.config)
        other.backend = (self.backend if other.config.engine == self.config.engine
                         else _backend(other.config, self._state.store))
        other._lock = threading.Lock()
        other._unloadable = None
        other._state = _Loaded(self._state.store, self.embedder, other.config, other.cross_encoder, other.reader,
                               other.backend, other.prior, other.followup)
        return other

    @property
    def index_dir(self) -> Path:
        return self._state.store.root

    # ---- questions ----------------------------------------------------------------------
    def _filters(self, as_of, date_from, date_to, sources) -> Filters:
        if isinstance(sources, str):
            sources = [sources]
        date_from, date_to = to_date(date_from, name="date_from"), to_date(date_to, name="date_to")
        check_range(date_from, date_to)  # a reversed range is a typo to refuse, not a search that finds nothing
        return Filters(as_of=to_date(as_of, name="as_of") or date.today(), date_from=date_from, date_to=date_to,
                       sources=tuple(s for s in (sources or ()) if s))

    def search(self, query: str, k: int | None = None, *, as_of: date | str | None = None,
               date_from: date | str | None = None, date_to: date | str | None = None,
               sources: Sequence[str] | str | None = None) -> list[Passage]:
        """The ``k`` passages that best match ``query``, best first.

        Args:
            query: what to look for.
            k: number of passages (default ``config.k``, at most 100).
            as_of: the date the question is asked (default today): later articles are left out,
                and "this week" / "yesterday" in the query are read relative to it.
            date_from, date_to: inclusive publication-date range (undated articles are left out).
            sources: only articles from these sources.
        """
        _check_question(query)
        k = check_k(self.config.k if k is None else k)
        filters = self._filters(as_of, date_from, date_to, sources)
        return self._fresh().retrieve.search(query, k, filters)

    def ask(self, question: str, *, history: Sequence[Turn] | None = None, as_of: date | str | None = None,
            date_from: date | str | None = None, date_to: date | str | None = None,
            sources: Sequence[str] | str | None = None, k: int | None = None,
            backend: Backend = "auto") -> Answer:
        """Answer ``question`` from the collection, with numbered citations.

        Args:
            question: the question.
            history: earlier (question, answer) turns; a follow-up is made standalone from them.
            as_of, date_from, date_to, sources: as for :meth:`search`.
            k: passages retrieved (default ``config.k``).
            backend: ``extractive`` (offline), ``llm`` (the configured endpoint) or ``auto``
                (the LLM when one is configured, else extractive).

        Returns:
            An :class:`Answer`; ``abstained`` is True when the passages do not support one.
        """
        *_, answer = self.stream(question, history=history, as_of=as_of, date_from=date_from, date_to=date_to,
                                 sources=sources, k=k, backend=backend)
        return answer

    def stream(self, question: str, *, history: Sequence[Turn] | None = None, as_of: date | str | None = None,
               date_from: date | str | None = None, date_to: date | str | None = None,
               sources: Sequence[str] | str | None = None, k: int | None = None,
               backend: Backend = "auto") -> Iterator[Answer]:
        """Like :meth:`ask`, but yields the answer as it grows; the last item is the complete,
        checked answer (for an LLM it may differ from the streamed text)."""
        _check_question(question)
        if backend not in ("auto", "extractive", "llm"):
            raise ValueError(f"backend must be one of 'auto', 'extractive', 'llm', got {backend!r}")
        base_url, model, _ = resolve_endpoint(self.config)  # the config's, else NEWSDESK_LLM_* variables
        if backend == "llm" and not (base_url and model):
            raise ValueError("backend 'llm' needs llm_base_url and llm_model (config or NEWSDESK_LLM_* variables)")
        state = self._fresh()
        draft = Draft(text=question, filters=self._filters(as_of, date_from, date_to, sources),
                      k=check_k(self.config.k if k is None else k), history=tuple(history or ()),
                      writer=self._llm() if backend != "extractive" and base_url and model else None)
        yield from run_stages(state.stages, state.compose, draft)

    def timeline(self, query: str, *, as_of: date | str | None = None, date_from: date | str | None = None,
                 date_to: date | str | None = None, sources: Sequence[str] | str | None = None,
                 k: int | None = None) -> Timeline:
        """The story ``query`` names as dated developments: its articles in date order, one cited
        line each (the sentence that carries the development), copies of one story merged.

        Args:
            query: the story ("the Valmora port strike", "What happened with X since March?":
                "since March" starts the timeline on 1 March).
            as_of, date_from, date_to, sources: as for :meth:`search`.
            k: at most this many entries (default ``config.k``).
        """
        _check_question(query)
        state = self._fresh()
        filters = self._filters(as_of, date_from, date_to, sources)
        k = check_k(self.config.k if k is None else k)
        # As for ask: a source the collection lacks, or filters that leave nothing, are said.
        notes, nothing = state.retriever.facets.explain(filters)
        story = Timeline(query=query) if nothing else state.compose.timeline(query, filters, k)
        return replace(story, warnings=[*notes, *story.warnings]) if notes else story

    def read(self, question: str, *, as_of: date | str | None = None, date_from: date | str | None = None,
             date_to: date | str | None = None, sources: Sequence[str] | str | None = None,
             k: int | None = None) -> Reading:
        """What the offline answerer reads for a standalone ``question``: the passages and every
        candidate sentence with its hand-set score (the reader's training data is mined with it)."""
        _check_question(question)
        state = self._fresh()
        filters = self._filters(as_of, date_from, date_to, sources)
        passages = state.retrieve.search(question, check_k(self.config.k if k is None else k), filters)
        context = state.retriever.neighbours(passages[: self.config.read.passages], lead=True)
        return state.answerer.read(question, passages, query=question, context=context)

    def _llm(self):  # noqa: ANN202 - rag.llm.LLMAnswerer, imported lazily
        from rag.llm import LLMAnswerer

        return LLMAnswerer(self.config, embedder=self.embedder)

    def choose(self, question: str, choices: Sequence[str], *, as_of: date | str | None = None,
               date_from: date | str | None = None, date_to: date | str | None = None,
               sources: Sequence[str] | str | None = None, k: int = CHOOSE_K) -> Choice:
        """Pick the choice the collection's evidence supports best.

        Each sentence of the top ``k`` passages (and of their articles' leads) that names a
        choice is evidence for it: hand-set votes (question coverage and rank), the reader's
        votes, and how many articles name it. The reader folder's trained chooser weighs that
        evidence; without one the votes are mixed (see :mod:`rag.choice`).

        Returns:
            A :class:`Choice` with the pick, a normalised score per choice, and citations.
        """
        _check_question(question)
        choices = [c for c in choices]
        if not choices or any(not isinstance(c, str) or not c.strip() for c in choices):
            raise ValueError(f"choices must be non-empty strings, got {choices!r}")
        state = self._fresh()
        filters = self._filters(as_of, date_from, date_to, sources)
        reader = state.answerer.reader
        use_chooser = reader is not None and reader.chooser is not None
        read, t, features = self._option_evidence(state, question, choices, filters, check_k(k),
                                                  features=use_chooser)
        norm = reader.choose(features) if use_chooser else t.mixed()
        pick = max(range(len(choices)), key=lambda i: norm[i])
        chosen = t.evidence(pick)
        _, citations = number_citations([chosen] if chosen is not None else [], read)
        return Choice(question=question, choice=choices[pick], scores=dict(zip(choices, norm)), citations=citations)

    def _option_evidence(self, state: _Loaded, question: str, choices: list[str], filters: Filters, k: int, *,
                         features: bool) -> tuple[list[Passage], choice_mod.Tally, np.ndarray | None]:
        """What was read, each choice's evidence in it, and (with ``features``) the chooser's
        feature rows. ``newsdesk train-reader`` fits the chooser on exactly these rows."""
        passages = state.retrieve.search(question, k, filters)
        # The top articles' leads and the chunks next to their passages are read too (at the
        # article's rank): the passage that matched the question often does not name the answer.
        read = passages + state.retriever.neighbours(passages[: self.config.read.passages], lead=True)
        t = choice_mod.tally(question, choices, passages, read, state.idf_of)
        reader = state.answerer.reader
        if reader is not None:
            reading = state.answerer.read(question, passages, query=question, context=read[len(passages):])
            ranked, values = reader.rank(reading)
            t = choice_mod.add_reader_votes(t, reading, ranked, values, len(passages))
        if not features:
            return read, t, None
        # A third of the answers are named nowhere in what the question retrieves: search the
        # question with each choice too (BM25, fast), as a quiz-taker checks each option.
        found = [[state.retriever.passage(h.row, h.score)
                  for h in state.retriever.sparse(f"{question} {c}", choice_mod.HYPOTHESIS_HITS, filters)]
                 for c in choices]
        t = choice_mod.add_hypotheses(t, question, found, state.idf_of)
        return read, t, choice_mod.option_features(question, t, state.idf_of)

    def article(self, article_id: str) -> tuple[Article, tuple[Copy, ...]]:
        """The stored article ``article_id`` (its cleaned text, as indexed) and the other articles
        of its story group (syndicated copies and versions, oldest first).

        Raises:
            ValueError: no article with that id in the collection.
        """
        state = self._fresh()
        row = state.store.article_row.get(article_id) if isinstance(article_id, str) else None
        if row is None:
            raise ValueError(f"no article with id {article_id!r} in the collection")
        return state.store.articles[row], state.retriever.copies(row)

    # ---- what training reads: the same rows the answer path computes ---------------------
    def articles(self) -> list[Article]:
        """The live index's articles, in index order."""
        return list(self._fresh().store.articles)

    def idf(self, term: str) -> float:
        """``term``'s inverse document frequency in the collection (blended with the IDF prior)."""
        return self._fresh().idf_of(term)

    def option_features(self, question: str, choices: Sequence[str], *, as_of: date | str | None = None,
                        k: int = CHOOSE_K) -> np.ndarray:
        """The trained chooser's feature rows for ``choices`` (one per choice), exactly as
        :meth:`choose` computes them; ``newsdesk train-reader`` fits the chooser on them."""
        _check_question(question)
        state = self._fresh()
        filters = self._filters(as_of, None, None, None)
        _, _, x = self._option_evidence(state, question, list(choices), filters, check_k(k), features=True)
        return x

    def rerank_features(self, question: str, *, as_of: date | str | None = None) -> tuple[list[str], np.ndarray]:
        """The article ids the reranker orders for ``question`` and their feature matrix
        (:data:`rag.rerank.RANK_FEATURES`), in retrieval order: what the trained ranker learns from."""
        _check_question(question)
        state = self._fresh()
        rows, x = state.retriever.rerank_candidates(question, filters=self._filters(as_of, None, None, None))
        return [state.store.articles[r].id for r in rows], x

    def followup_features(self, question: str, rewrite: str, history: Sequence[Turn], alone: list[Passage],
                          rewritten: list[Passage]) -> np.ndarray:
        """The trained follow-up decision's row for ``question`` searched as asked (``alone``)
        and as ``rewrite`` (``rewritten``), exactly as :meth:`ask` computes it."""
        return self._fresh().retrieve.followup_features(question, rewrite, history, alone, rewritten)

    def stats(self) -> Stats:
        store = self._fresh().store
        dates = [a.date for a in store.articles if a.date]
        return Stats(
            articles=len(store.articles), chunks=len(store), date_from=min(dates) if dates else None,
            date_to=max(dates) if dates else None, undated=len(store.articles) - len(dates),
            sources=len({a.source for a in store.articles}), model=store.manifest["model"],
            index_dir=str(store.root), source_names=tuple(sorted({a.source for a in store.articles if a.source})),
        )

    def add_articles(
        self, items: Iterable[str | Path | Article], *, progress: bool = False, wait: bool = True
    ) -> tuple[LoadReport, BuildReport | None]:
        """Add articles (objects, or files/folders to load) and make them searchable at once.

        The write goes through the index's writer lock and builds on the latest version on
        disk, so articles another process added meanwhile are kept; ``wait=False`` raises
        IndexLockedError instead of waiting for another writer.

        Returns the load report (bad records with file, line, reason) and the build report,
        which is None when nothing valid was found (the index is then left unchanged).
        """
        from index.build import add_articles
        from index.load import LoadReport, load_articles

        items = list(items)
        articles = [a for a in items if isinstance(a, Article)]
        report = load_articles([p for p in items if not isinstance(p, Article)]) if len(articles) < len(items) \
            else LoadReport(articles=[], problems=[])
        articles += report.articles
        if not articles:
            return report, None
        with self._lock:
            build = add_articles(self.index_dir, articles, settings=self.config.index, embedder=self.embedder,
                                 progress=progress, wait=wait, backend=self._engine())
            self._reload()
        return report, build

    def copy_to(self, path: str | Path) -> Assistant:
        """A new assistant over a copy of this index's live version at ``path`` (which must not
        exist yet), sharing the loaded model; adding articles to the copy leaves this one as it is."""
        dest = Path(path)
        with self._lock:  # no swap halfway through the copy
            version = store_mod.current_version(self.index_dir)
            if version is None:
                raise IndexCorruptError(f"No index found at {self.index_dir}")
            dest.mkdir(parents=True)
            shutil.copytree(version, dest / version.name)
            shutil.copy2(self.index_dir / store_mod.POINTER, dest / store_mod.POINTER)
        store = IndexStore.load(dest, settings=self.config.index)
        # The copy searches its own folder: the engine mirrors this index, not the copy.
        return Assistant(store, config=self.config.replace(engine=None), embedder=self.embedder,
                         cross_encoder=self.cross_encoder, reader=self.reader)

    def remove_articles(self, ids: Iterable[str], *, wait: bool = True) -> BuildReport:
        """Remove articles by id (from the latest version on disk, under the writer lock); the
        index is swapped atomically."""
        from index.build import remove_articles

        with self._lock:
            build = remove_articles(self.index_dir, ids, settings=self.config.index, embedder=self.embedder,
                                    wait=wait, backend=self._engine())
            self._reload()
        return build

    def _engine(self) -> SearchBackend | None:
        """The search engine a write must sync too; None when the folder is the search index."""
        return self.backend if self.config.engine else None

    def _reload(self) -> None:
        store = IndexStore.load(self.index_dir, settings=self.config.index)
        self._state = _Loaded(store, self.embedder, self.config, self.cross_encoder, self.reader, self.backend,
                              self.prior, self.followup)

    def _fresh(self) -> _Loaded:
        """The loaded index, reloaded first when the index on disk moved on (another process
        wrote it). Costs one read of ``CURRENT`` per call; while this assistant is writing, or
        when the new version cannot be loaded, the loaded one keeps answering."""
        state = self._state
        try:
            live = store_mod.current_version(state.store.root)
        except NewsdeskError:
            return state
        if live is None or live.name in (state.store.version, self._unloadable):
            return state
        if self._lock.acquire(blocking=False):  # busy: our own write reloads when it is done
            try:
                if self._state is state:
                    self._reload()
            except NewsdeskError as exc:
                self._unloadable = live.name
                print(f"Warning: keeping the loaded index; its new version {live} failed to load: {exc}",
                      file=sys.stderr)
            finally:
                self._lock.release()
        return self._state


def _backend(config: Config, store: IndexStore) -> SearchBackend:
    """The search backend ``config.engine`` names; an engine is synced to the live index
    first (under the writer lock; nothing to do when it is up to date)."""
    backend = open_backend(config.engine)
    if config.engine:
        report = sync_live(backend, store.root, settings=config.index, loaded=store)
        if report.added or report.removed:
            print(report.summary(), file=sys.stderr)
    return backend


def _cross_encoder(config: Config, device: str | None) -> CrossEncoderReranker | None:
    """The configured cross-encoder, loaded now: a bad path fails when the assistant is made,
    not at its first question."""
    if config.rerank.cross_encoder is None:
        return None
    reranker = CrossEncoderReranker(config.rerank.cross_encoder, device=device)
    reranker.load()
    return reranker


def _reader(config: Config) -> Reader | None:
    """The configured reader, verified and loaded now (a bad folder fails at start)."""
    if config.read.reader is None:
        return None
    reader = Reader(None if config.read.reader == "bundled" else config.read.reader,
                    use_cross_encoder=config.read.reader_cross_encoder)
    reader.load()
    return reader


def _followup(config: Config) -> followup_mod.FollowupModel:
    """The configured follow-up decision, checked now (a bad folder fails at start)."""
    return followup_mod.FollowupModel(None if config.followup == "bundled" else config.followup)


def _prior(config: Config) -> IdfPrior | None:
    """The configured IDF prior, checked now (a bad folder fails at start)."""
    if config.retrieve.idf_prior is None:
        return None
    return IdfPrior(None if config.retrieve.idf_prior == "bundled" else config.retrieve.idf_prior)


def _check_question(question: str) -> None:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is too long ({len(question)} characters; at most {MAX_QUESTION_CHARS})")


__all__ = ["Assistant", "Stats", "cache_dir", "sample_index_dir"]
