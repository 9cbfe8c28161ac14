"""The functions behind the UI's events: chat (streaming), the ``/ask`` API, uploads, and reset.

They talk to :class:`rag.Assistant` only, through a :class:`~ui.session.Workspace`, and turn
what it returns into HTML with :mod:`ui.render`.
"""

from __future__ import annotations

import reprlib
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from index.errors import NewsdeskError
from index.load import LoadProblem, LoadReport, load_articles
from index.records import Article
from ui import render
from ui.session import Message, Session, SessionLimitError, Workspace

MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# Uploaded files are deleted once indexed; one that no upload event took (a bare POST to
# Gradio's upload route) is deleted after this long, looked for every UPLOAD_SWEEP_S, and
# every upload is deleted when the server stops.
UPLOAD_MAX_AGE_S = 30 * 60
UPLOAD_SWEEP_S = 5 * 60
UPLOAD_TYPES = (".jsonl", ".ndjson", ".json", ".csv", ".txt", ".md", ".html", ".htm", ".jsonl.gz", ".ndjson.gz",
                ".rss", ".atom", ".xml", ".warc", ".warc.gz")
# What the file picker offers: browsers match an accept list by the last suffix only.
PICKER_TYPES = tuple(dict.fromkeys("." + t.rsplit(".", 1)[1] for t in UPLOAD_TYPES))
# Follow-ups are rewritten from the last turns only (the assistant reads two); more is noise.
HISTORY_TURNS = 4
# Earlier answers whose sources stay in the panel (hidden until one of their [n] is clicked);
# older ones are dropped so that each update of the panel stays small.
PANEL_TURNS = 20

ChatOutputs = tuple[list[Message], Any, Session, str]


def _dates_and_sources(date_from: str | None, date_to: str | None,
                       sources: Sequence[str] | str | None) -> dict[str, Any]:
    return {
        "date_from": (date_from or "").strip()[:10] or None,
        "date_to": (date_to or "").strip()[:10] or None,
        "sources": [sources] if isinstance(sources, str) else [s for s in (sources or []) if s],
    }


def check_dates(filters: dict[str, Any], names: dict[str, str]) -> None:
    """Refuse a date that is not a real YYYY-MM-DD one (2025-13-45), naming the field as the
    user sees it (``names``: "From" on the page, ``date_from`` in the API)."""
    for key, label in names.items():
        value = filters.get(key)
        if value is None:
            continue
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{label}: {value!r} is not a date; use YYYY-MM-DD, e.g. 2025-07-23") from None


def refuse(message: str) -> gr.Error:
    """An API call refused for what the caller sent: one line in the server log (no traceback,
    which would only show our own code), and the message in the caller's error."""
    print(f"Refused an API call: {message}", file=sys.stderr, flush=True)
    return gr.Error(message, print_exception=False)


def api_k(k: object) -> int | None:
    """``k`` of an API call: None for the server's default; 0, -1, 2.5 or "ten" are refused
    (by the assistant's own check) rather than taken as the default."""
    if isinstance(k, float) and k.is_integer():
        return int(k)
    if k is not None and not isinstance(k, (int, float, str)):
        raise refuse(f"k must be a whole number, got a {type(k).__name__}")
    return k  # type: ignore[return-value]  # anything else is checked, and refused, downstream


def api_texts(required: dict[str, object], optional: dict[str, object]) -> None:
    """Refuse API values that are not strings (``optional`` ones may also be None), naming the
    parameter: a number where a date goes would otherwise fail deep inside, as a traceback."""
    for name, value in [*required.items(), *optional.items()]:
        if not isinstance(value, str) and not (value is None and name in optional):
            raise refuse(f"{name} must be a string, got {'nothing' if value is None else type(value).__name__}")


def api_sources(sources: object) -> list[str] | str | None:
    """``sources`` of an API call: a name, a list of names, or None."""
    if sources is None or isinstance(sources, str) or \
            (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        return sources
    raise refuse("sources must be a list of source names (strings)")


def _size(n: int) -> str:
    return f"{n / 2**20:.3g} MB" if n >= 2**20 else f"{n / 2**10:.3g} KB"


def discard_upload(path: Path, root: Path) -> None:
    """Delete an uploaded file once it is indexed or refused, with the folder Gradio made for
    it when that is left empty; only inside ``root`` (Gradio's upload folder), so that an API
    call naming another file never deletes it."""
    try:
        path = path.resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            return
        path.unlink()
        if path.parent != root.resolve():
            path.parent.rmdir()  # fails (and stays) when not empty
    except OSError:
        pass


def upload_refusal(path: Path) -> str | None:
    """Why ``path`` is not read (wrong type, over the size limit), or None when it is fine."""
    if not path.name.lower().endswith(UPLOAD_TYPES):
        return f"{path.name}: unsupported file type (use {', '.join(UPLOAD_TYPES)})"
    if not path.is_file():
        return f"{path.name}: the uploaded file is gone (uploads not indexed within " \
               f"{UPLOAD_MAX_AGE_S // 60} minutes are deleted); upload it again"
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        return f"{path.name} is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB per file"
    return None


def load_uploads(paths: Sequence[Path]) -> LoadReport:
    """Read uploaded files, each article without a source named after its file ("upload:
    notes.txt"): a pasted text has no site, and "unknown source" on its card says nothing."""
    report = LoadReport()
    kept: dict[str, Article] = {}
    for path in paths:
        one = load_articles([path])
        report.extend(replace(one, articles=[]))
        for a in one.articles:  # one id in two files: the later file's, as one load of both would do
            if a.id in kept:
                report.problems.append(LoadProblem(str(path), None, f"duplicate id {a.id!r}: replaces the article "
                                                   "of an earlier file", kept=True, kind="duplicate-id"))
            kept[a.id] = a if a.source else replace(a, source=f"upload: {path.name}")
    report.articles = list(kept.values())
    return report


class Handlers:
    """Event functions bound to one :class:`Workspace`."""

    def __init__(self, workspace: Workspace, *, upload_root: Path | None = None) -> None:
        """``upload_root``: where Gradio puts uploads (default: its upload folder, read when
        an upload comes); uploaded files there are deleted once indexed or refused."""
        self.workspace = workspace
        self._upload_root = upload_root

    @property
    def upload_root(self) -> Path:
        from gradio.utils import get_upload_folder

        return self._upload_root or Path(get_upload_folder())

    def session(self, session: object, request: gr.Request | None = None) -> Session:
        """The live session an event runs in (see :meth:`Workspace.enter`)."""
        try:
            return self.workspace.enter(session, getattr(request, "session_hash", None))
        except SessionLimitError as exc:
            raise refuse(str(exc)) from None

    # ---- chat ---------------------------------------------------------------------------
    def chat(self, question: str, date_from: str | None, date_to: str | None, sources: list[str] | None,
             k: float | None, backend: str, session: Session | None,
             request: gr.Request | None = None) -> Iterator[ChatOutputs]:
        """Answer ``question`` in the conversation of ``session``, streaming.

        Yields:
            (chat messages, sources panel HTML or ``gr.skip()``, session, "" to clear the box).
        """
        session = self.session(session, request)
        question = (question or "").strip()
        if not question:
            yield session.messages, gr.skip(), session, ""
            return
        turn = len(session.turns) + 1
        messages = [*session.messages, {"role": "user", "content": render.question_html(question)},
                    {"role": "assistant", "content": render.pending_html()}]
        yield messages, gr.skip(), session, ""
        assistant = self.workspace.assistant_for(session)
        answer = None
        try:
            filters = _dates_and_sources(date_from, date_to, sources)
            check_dates(filters, {"date_from": "From", "date_to": "To"})
            for i, answer in enumerate(assistant.stream(
                    question, history=session.turns[-HISTORY_TURNS:], k=int(k) if k else None,
                    backend=backend or "auto", **filters)):
                messages = [*messages[:-1], {"role": "assistant",
                                             "content": render.answer_html(answer, turn=turn, streaming=True)}]
                panel = render.sources_html(answer, turn=turn, earlier=session.earlier_answers(PANEL_TURNS - 1))
                yield messages, panel if i == 0 else gr.skip(), session, ""
        except (ValueError, NewsdeskError) as exc:
            failed = render.notice_html(f"Could not answer: {exc}")
            messages = [*messages[:-1], {"role": "assistant", "content": failed}]
            session.messages = messages
            yield messages, gr.skip(), session, ""
            return
        if answer is None:
            return
        messages = [*messages[:-1], {"role": "assistant", "content": render.answer_html(answer, turn=turn)}]
        earlier = session.earlier_answers(PANEL_TURNS - 1)
        session.record(question, answer, messages)
        yield messages, render.sources_html(answer, turn=turn, earlier=earlier), session, ""

    def new_conversation(self, session: Session | None,
                         request: gr.Request | None = None) -> tuple[list[Message], str, Session, str, str, list]:
        """Start over: empty chat and sources, and no search filters (a private collection is kept).

        Returns:
            (chat messages, sources panel HTML, session, From, To, Sources), the last three cleared.
        """
        session = self.session(session, request)
        session.reset_conversation()
        return [], render.sources_html(None, turn=0), session, "", "", []

    @staticmethod
    def filters_view(date_from: str | None, date_to: str | None, sources: list[str] | None) -> Any:
        """The "Filters on: ..." line for the search options as they are set now (hidden when none is)."""
        filters = _dates_and_sources(date_from, date_to, sources)
        shown = render.filters_html(filters["date_from"], filters["date_to"], filters["sources"])
        return gr.update(value=shown, visible=bool(shown))

    # ---- API ----------------------------------------------------------------------------
    def ask(self, question: str, history: list[list[str]] | None = None, date_from: str | None = None,
            date_to: str | None = None, sources: list[str] | None = None, k: int | None = None,
            backend: str = "auto", as_of: str | None = None) -> dict:
        """Answer a question from the collection served (not a browser session's uploads).

        Args:
            question: the question.
            history: earlier [question, answer] pairs; a follow-up is rewritten from them.
            date_from: only articles published on or after this date (YYYY-MM-DD).
            date_to: only articles published on or before this date (YYYY-MM-DD).
            sources: only articles from these sources.
            k: passages to retrieve (default: the server's).
            backend: "extractive", "llm" or "auto".
            as_of: the date the question is asked (default today).

        Returns:
            The answer as a dict: question, text with [n] markers, citations (number, title,
            url, source, date, quote, offsets), passages, abstained, warnings, query, backend,
            and disagreement (None, or kind "conflict"/"update", the note, and each report's value,
            citation number, source and date) when sources give different values.
        """
        api_texts({"question": question}, {"date_from": date_from, "date_to": date_to, "backend": backend,
                                           "as_of": as_of})
        if history is not None and not isinstance(history, list):
            raise refuse("history must be a list of [question, answer] pairs of strings")
        pairs = []
        for pair in history or []:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
                raise refuse(f"history must be a list of [question, answer] pairs of strings, got {reprlib.repr(pair)}")
            pairs.append((pair[0], pair[1]))
        try:
            filters = _dates_and_sources(date_from, date_to, api_sources(sources))
            check_dates(filters, {"date_from": "date_from", "date_to": "date_to"})
            answer = self.workspace.shared.ask(question, history=pairs, k=api_k(k), backend=backend or "auto",
                                               as_of=as_of or None, **filters)
        except (ValueError, NewsdeskError) as exc:
            raise refuse(str(exc)) from None
        return answer.to_dict()

    # ---- timeline -----------------------------------------------------------------------
    def timeline_view(self, query: str, date_from: str | None, date_to: str | None, sources: list[str] | None,
                      session: Session | None) -> str:
        """The timeline panel for ``query`` over ``session``'s collection (with the search filters)."""
        query = (query or "").strip()
        if not query:
            return render.timeline_html(None)
        try:
            filters = _dates_and_sources(date_from, date_to, sources)
            check_dates(filters, {"date_from": "From", "date_to": "To"})
            story = self.workspace.assistant_for(session).timeline(query, **filters)
        except (ValueError, NewsdeskError) as exc:
            return render.notice_html(f"Could not build the timeline: {exc}")
        return render.timeline_html(story)

    def timeline(self, query: str, date_from: str | None = None, date_to: str | None = None,
                 sources: list[str] | None = None, as_of: str | None = None, k: int | None = None) -> dict:
        """A story's developments in date order, from the collection served.

        Args:
            query: the story, e.g. "the Valmora port strike" or "What happened with X since March?".
            date_from: only articles published on or after this date (YYYY-MM-DD).
            date_to: only articles published on or before this date (YYYY-MM-DD).
            sources: only articles from these sources.
            as_of: the date the question is asked (default today).
            k: at most this many entries (default: the server's k).

        Returns:
            query, entries (date, article_id, title, url, source, sentence, offsets, also: the
            story's other copies), undated (articles on the story without a date) and warnings
            (a source the collection lacks, or filters that leave nothing).
        """
        api_texts({"query": query}, {"date_from": date_from, "date_to": date_to, "as_of": as_of})
        try:
            filters = _dates_and_sources(date_from, date_to, api_sources(sources))
            check_dates(filters, {"date_from": "date_from", "date_to": "date_to"})
            story = self.workspace.shared.timeline(query, as_of=as_of or None, k=api_k(k), **filters)
        except (ValueError, NewsdeskError) as exc:
            raise refuse(str(exc)) from None
        return story.to_dict()

    # ---- the collection -----------------------------------------------------------------
    def private_flag(self, session: Session | None) -> bool | None:
        """What :func:`render.stats_markdown` says about uploads for ``session``."""
        if not self.workspace.private_uploads:
            return None
        return session is not None and session.assistant is not None

    def stats(self, session: Session | None = None) -> str:
        """The collection's stats as Markdown, for ``session``'s collection."""
        stats = self.workspace.assistant_for(session).stats()
        return render.stats_markdown(stats, private_copy=self.private_flag(session))

    def source_choices(self, session: Session | None = None) -> list[str]:
        """Source names for the filter, when the facade's stats list them (else none: type a name)."""
        stats = self.workspace.assistant_for(session).stats()
        return sorted(getattr(stats, "source_names", None) or [])

    def source_filter(self, session: Session | None = None) -> Any:
        """The Sources box's choices as the collection holds them now (on each page load: another
        process may have added articles, and sources, since the page was built)."""
        choices = self.source_choices(session)
        return gr.update(choices=choices) if choices else gr.skip()

    @staticmethod
    def uploads_update(session: Session) -> Any:
        """The "Your uploads" list: this session's uploaded articles, none selected."""
        return gr.update(choices=[(title, aid) for aid, title in session.uploads.items()], value=[])

    def remove_uploads(self, ids: list[str] | None, session: Session | None,
                       request: gr.Request | None = None) -> tuple[str, str, Any, Session]:
        """Remove the selected uploaded articles from ``session``'s collection.

        Returns:
            (status HTML, stats Markdown, uploads list update, session).
        """
        session = self.session(session, request)
        titles = [session.uploads[i] for i in ids or [] if i in session.uploads]
        try:
            build = self.workspace.remove_articles(session, list(ids or []))
        except (ValueError, NewsdeskError) as exc:
            raise gr.Error(f"Remove failed: {exc}") from exc
        if build is None:
            return render.upload_report_html("", error="Select uploaded articles to remove."), gr.skip(), \
                self.uploads_update(session), session
        status = render.removal_html(titles, total=self.workspace.assistant_for(session).stats().articles)
        return status, self.stats(session), self.uploads_update(session), session

    def upload(self, files: list[str] | str | None, session: Session | None,
               progress: gr.Progress = gr.Progress(track_tqdm=True),
               request: gr.Request | None = None) -> tuple[str, str, Any, None, Any, Session]:
        """Index uploaded files for ``session``; bad records are reported, valid ones go in.
        The uploaded files are deleted afterwards, indexed or refused.

        Returns:
            (status HTML, stats Markdown, sources filter update, None to clear the upload box,
            uploads list update, session).
        """
        paths = [Path(f) for f in ([files] if isinstance(files, str) else files or [])]
        try:
            return self._upload(paths, self.session(session, request), progress)
        finally:
            for path in paths:
                discard_upload(path, self.upload_root)

    def quota_refusal(self, path: Path, session: Session) -> str | None:
        """Why ``path`` would take ``session`` over its upload quota (counting it in when not)."""
        size, quota = path.stat().st_size, self.workspace.upload_quota_bytes
        if session.upload_bytes + size > quota:
            return (f"{path.name}: this session has uploaded {_size(session.upload_bytes)}; "
                    f"the limit is {_size(quota)} per session")
        session.upload_bytes += size
        return None

    def _upload(self, paths: list[Path], session: Session,
                progress: gr.Progress) -> tuple[str, str, Any, None, Any, Session]:
        if not paths:
            return gr.skip(), gr.skip(), gr.skip(), None, gr.skip(), session
        accepted, refused = [], []
        for path in paths:
            reason = upload_refusal(path) or self.quota_refusal(path, session)
            (refused if reason else accepted).append(reason or path)
        paths = accepted
        if not paths:
            status = render.upload_report_html("", error="Nothing uploaded. " + "; ".join(refused))
            return status, gr.skip(), gr.skip(), None, gr.skip(), session
        fresh = self.workspace.private_uploads and session.assistant is None
        progress(0.05, desc="Copying the collection for this session" if fresh else "Reading the files")
        started = time.perf_counter()
        try:
            report = load_uploads(paths)
            _, build = self.workspace.add_articles(session, report.articles, progress=True) if report.articles \
                else (None, None)
        except (ValueError, NewsdeskError) as exc:
            raise gr.Error(f"Upload failed: {exc}") from exc
        if build is not None:
            session.uploads.update({a.id: a.title or a.id for a in report.articles})
        text = report.summary() + (f"\n{build.replaced_line()}" if build is not None and build.replaced_ids else "")
        summary = render.short_paths(text, [str(p.parent) for p in paths])
        if refused:
            summary = "Not read: " + "; ".join(refused) + "\n" + summary
        assistant = self.workspace.assistant_for(session)
        status = render.upload_report_html(
            summary, added=build.added if build is not None else None, replaced=build.changed if build else 0,
            total=assistant.stats().articles if build is not None else None,
            seconds=time.perf_counter() - started)
        choices = self.source_choices(session)
        return (status, self.stats(session), gr.update(choices=choices) if choices else gr.skip(), None,
                self.uploads_update(session), session)
