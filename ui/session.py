"""Per-browser-session state (the conversation, a private collection after an upload) and the
app-wide :class:`Workspace` that decides where uploads go."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag import Answer, Assistant

Turn = tuple[str, str]
Message = dict[str, str]
# Private copies live in <tmp>/newsdesk-ui-*/; each such folder's ALIVE file is locked (flock)
# by its server for as long as that server runs, so an unlocked one was left by a dead server.
COPIES_PREFIX = "newsdesk-ui-"
ALIVE = ".alive"


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
        """Delete the private index folder, if any."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.assistant = self.workdir = None


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
    """

    def __init__(self, shared: Assistant, *, private_uploads: bool, root: Path | None = None) -> None:
        self.shared = shared
        self.private_uploads = private_uploads
        self._root = root
        self._alive: int | None = None  # the locked ALIVE file of a root this workspace made
        self._root_lock = threading.Lock()

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
        """Delete every private copy made by this workspace."""
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
