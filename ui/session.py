"""Per-browser-session state (the conversation, a private collection after an upload) and the
app-wide :class:`Workspace` that decides where uploads go."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import NewsdeskError
from rag import Answer, Assistant

Turn = tuple[str, str]
Message = dict[str, str]
# Private copies live in <tmp>/newsdesk-ui-*/; each such folder's ALIVE file is locked (flock)
# by its server for as long as that server runs, so an unlocked one was left by a dead server.
COPIES_PREFIX = "newsdesk-ui-"
ALIVE = ".alive"
# Each live session holds its conversation (about 0.5 MB with Gradio's copy of the page) and
# maybe a private index copy; a session idle this long is closed, its copy deleted.
SESSION_IDLE_S = 30 * 60
# At most this many live sessions: a new one closes the least recently used idle one first.
MAX_SESSIONS = 100
# Bytes one session may upload in all (files refused over it are deleted, as indexed ones are).
SESSION_UPLOAD_MB = 200
# How often idle sessions are looked for while no request comes in.
SWEEP_EVERY_S = 60.0


class SessionLimitError(NewsdeskError):
    """Every live session is busy and there is no room for another."""


def private_copy(assistant: Assistant, dest: Path) -> Assistant:
    """A new assistant over a copy of ``assistant``'s index at ``dest``, with the same config.

    Uses ``Assistant.copy_to`` when the facade has it (which shares the loaded embedding
    model); otherwise copies the index folder and opens the copy, which loads the model again.
    """
    copy_to = getattr(assistant, "copy_to", None)
    if callable(copy_to):
        return copy_to(dest)
    shutil.copytree(assistant.index_dir, dest)
    return Assistant.from_index(dest, config=assistant.config, progress=False)


@dataclass
class Session:
    """What one browser tab (or one ``gradio_client`` client) holds between events.

    Attributes:
        turns: earlier (question, answer text) pairs, for rewriting follow-ups.
        messages: the chat as shown (HTML per message).
        last_answer: the latest complete answer, whose sources the panel shows.
        answers: the finished answers, by turn (1-based: ``answers[turn - 1]``), so each
            answer's ``[n]`` can show that answer's own sources.
        uploads: article id -> headline of each article this session uploaded (and may remove).
        assistant: this session's private assistant after its first upload, else None.
        workdir: the folder of that private index.
    """

    turns: list[Turn] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    last_answer: Answer | None = None
    answers: list[Answer] = field(default_factory=list)
    uploads: dict[str, str] = field(default_factory=dict)
    assistant: Assistant | None = None
    workdir: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # Kept by the Workspace: which session this is, Gradio's name for its browser tab or client
    # (to drop Gradio's own state with it), when it was last used, the bytes it has uploaded,
    # and whether it was closed (a closed session's next event starts a new one).
    id: str = field(default_factory=lambda: uuid.uuid4().hex, repr=False, compare=False)
    client: str | None = field(default=None, repr=False, compare=False)
    last_used: float = field(default=0.0, repr=False, compare=False)
    upload_bytes: int = 0
    closed: bool = False

    def record(self, question: str, answer: Answer, messages: list[Message]) -> None:
        """Keep a finished turn."""
        self.turns.append((question, answer.text))
        self.messages = messages
        self.last_answer = answer
        self.answers.append(answer)

    def earlier_answers(self, limit: int) -> list[tuple[int, Answer]]:
        """The last ``limit`` finished answers as (turn, answer), oldest first."""
        start = max(0, len(self.answers) - limit)
        return [(i + 1, a) for i, a in enumerate(self.answers[start:], start)]

    def reset_conversation(self) -> None:
        """Forget the conversation (the private collection stays)."""
        self.turns, self.messages, self.last_answer, self.answers = [], [], None, []

    def close(self) -> None:
        """Delete the private index folder, if any, and forget the conversation."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.assistant = self.workdir = None
        self.reset_conversation()
        self.uploads = {}
        self.closed = True


def close_session(value: object) -> None:
    """``gr.State`` delete callback: clean up a session that Gradio drops."""
    if isinstance(value, Session):
        value.close()


class Workspace:
    """The app-wide side of sessions: the shared assistant and where uploads go.

    Args:
        shared: the assistant over the collection being served.
        private_uploads: True to put each session's uploads into its own copy of the
            collection (used for the bundled sample, which is never written to); False to add
            them to the served index itself, for everyone.
        root: where private copies are made (default: a new temporary folder).
        idle_s: a session unused this many seconds is closed (its private copy deleted).
        max_sessions: live sessions at most; a new one closes the least recently used idle one.
        upload_quota_bytes: bytes one session may upload in all.
        clock: seconds, for idle times (tests pass their own).
    """

    def __init__(self, shared: Assistant, *, private_uploads: bool, root: Path | None = None,
                 idle_s: float = SESSION_IDLE_S, max_sessions: int = MAX_SESSIONS,
                 upload_quota_bytes: int = SESSION_UPLOAD_MB * 2**20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_sessions < 1 or idle_s <= 0 or upload_quota_bytes < 0:
            raise ValueError("sessions need max_sessions >= 1, idle_s > 0 and upload_quota_bytes >= 0")
        self.shared = shared
        self.private_uploads = private_uploads
        self.idle_s, self.max_sessions, self.upload_quota_bytes = idle_s, max_sessions, upload_quota_bytes
        self.clock = clock
        # Called with a closed session's client name, to drop what Gradio keeps for it (set by the app).
        self.on_close: Callable[[str], None] | None = None
        self._root = root
        self._alive: int | None = None  # the locked ALIVE file of a root this workspace made
        self._root_lock = threading.Lock()
        self._live: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._live_lock = threading.Lock()
        self._stop_sweeping: threading.Event | None = None

    # ---- live sessions ------------------------------------------------------------------
    def enter(self, session: object, client: str | None = None) -> Session:
        """The session an event runs in, marked as used now: ``session`` itself, or a new one
        when there is none or it was closed. Idle sessions are closed first.

        Raises:
            SessionLimitError: a new session is needed, MAX_SESSIONS are live and all busy.
        """
        self._start_sweeping()
        with self._live_lock:
            now = self.clock()
            self._expire(now)
            if not isinstance(session, Session) or session.closed:
                session = Session()
            if session.id not in self._live:
                self._make_room()
                self._live[session.id] = session
            self._live.move_to_end(session.id)
            session.last_used = now
            session.client = client or session.client
        return session

    @property
    def live_sessions(self) -> int:
        """How many sessions are open."""
        return len(self._live)

    def expire(self) -> None:
        """Close the sessions idle for longer than ``idle_s`` (and those Gradio closed)."""
        with self._live_lock:
            self._expire(self.clock())

    def _expire(self, now: float) -> None:
        for session in list(self._live.values()):
            if session.closed or (now - session.last_used > self.idle_s and not session.lock.locked()):
                self._close(session)

    def _make_room(self) -> None:
        while len(self._live) >= self.max_sessions:
            idle = next((s for s in self._live.values() if not s.lock.locked()), None)
            if idle is None:
                raise SessionLimitError(f"The server is at its limit of {self.max_sessions} sessions, all busy; "
                                        "try again in a minute.")
            self._close(idle)

    def _close(self, session: Session) -> None:
        self._live.pop(session.id, None)
        session.close()
        if session.client is not None and self.on_close is not None:
            self.on_close(session.client)

    def _start_sweeping(self) -> None:
        """Close idle sessions every SWEEP_EVERY_S even when no request comes (started by the
        first session, stopped by :meth:`close`)."""
        if self._stop_sweeping is not None:
            return
        self._stop_sweeping = stop = threading.Event()
        ref, every = weakref.ref(self), min(SWEEP_EVERY_S, self.idle_s)  # no strong reference to self

        def sweep() -> None:
            while not stop.wait(every):
                workspace = ref()
                if workspace is None:
                    return
                workspace.expire()
                del workspace

        threading.Thread(target=sweep, name="newsdesk-session-sweep", daemon=True).start()

    def assistant_for(self, session: Session | None) -> Assistant:
        """The assistant a session asks: its private copy if it has one, else the shared one."""
        return session.assistant if session is not None and session.assistant is not None else self.shared

    def _new_dir(self) -> Path:
        with self._root_lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix=COPIES_PREFIX))
                self._alive = _claim(self._root)
            self._root.mkdir(parents=True, exist_ok=True)
        return self._root / f"session-{uuid.uuid4().hex[:12]}"

    def add_articles(self, session: Session, paths: Sequence[Path], *, progress: bool = False):  # noqa: ANN201
        """Index ``paths`` for ``session`` (see ``private_uploads``).

        The first upload of a session copies the collection; when that upload holds nothing
        valid the copy is dropped again, so the session keeps searching the shared collection.

        Returns:
            ``(LoadReport, BuildReport | None)`` from :meth:`rag.Assistant.add_articles`.
        """
        with session.lock:
            if not self.private_uploads:
                return self.shared.add_articles(paths, progress=progress)
            if session.assistant is not None:
                return session.assistant.add_articles(paths, progress=progress)
            dest = self._new_dir()
            try:
                candidate = private_copy(self.shared, dest)
                report, build = candidate.add_articles(paths, progress=progress)
            except BaseException:
                shutil.rmtree(dest, ignore_errors=True)
                raise
            if build is None:
                shutil.rmtree(dest, ignore_errors=True)
            else:
                session.assistant, session.workdir = candidate, dest
            return report, build

    def remove_articles(self, session: Session, ids: Sequence[str]):  # noqa: ANN201 - index.build.BuildReport
        """Remove articles ``session`` uploaded (ids it did not upload are ignored, so no user
        can remove another's articles or the collection's own); None when none was given."""
        with session.lock:
            ids = [i for i in ids if i in session.uploads]
            assistant = self.assistant_for(session)
            if not ids or (self.private_uploads and session.assistant is None):
                return None
            build = assistant.remove_articles(ids)
            for i in ids:
                session.uploads.pop(i, None)
            return build

    def close(self) -> None:
        """Close every session and delete every private copy made by this workspace."""
        if self._stop_sweeping is not None:
            self._stop_sweeping.set()
        with self._live_lock:
            for session in list(self._live.values()):
                self._close(session)
        with self._root_lock:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
            if self._alive is not None:
                os.close(self._alive)  # releases the lock
                self._alive = None


def _claim(root: Path) -> int:
    """Lock ``root``'s ALIVE file for this process's lifetime; the pid is written once the lock
    is held, so an empty file means "being set up", never "abandoned"."""
    fd = os.open(root / ALIVE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, str(os.getpid()).encode())
    return fd


def remove_dead_copies(folder: Path | None = None) -> list[Path]:
    """Delete the private-copy folders that servers which died (SIGKILL, power loss) left in
    ``folder`` (default: the temporary folder); returns them. A folder whose ALIVE file is
    locked belongs to a running server; one without an ALIVE file is left alone."""
    removed = []
    for root in sorted(Path(folder or tempfile.gettempdir()).glob(COPIES_PREFIX + "*")):
        try:
            if root.is_symlink() or not root.is_dir():
                continue
            fd = os.open(root / ALIVE, os.O_RDWR)
        except OSError:  # no ALIVE file, or another user's folder
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.read(fd, 32).strip():
                shutil.rmtree(root, ignore_errors=True)
                removed.append(root)
        except BlockingIOError:
            pass  # its server is running
        finally:
            os.close(fd)
    return removed
