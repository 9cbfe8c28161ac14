"""One writer at a time per index folder: an exclusive ``flock`` on ``DIR/.lock``.

The operating system drops a ``flock`` when its holder exits, however it exits, so a
crashed or killed writer never leaves the index locked. The lock is re-entrant within a
thread (``add_articles`` -> ``write_collection`` -> ``write_store`` each take it) and
serialises threads of one process too (a second ``open`` + ``flock`` in the same process
would otherwise block on itself).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IndexLockedError, IndexWriteError

LOCK_FILE = ".lock"


class _Held:
    """The process-wide state of one index's lock: a thread lock, the file, the nesting depth."""

    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.fd: int | None = None
        self.depth = 0


_registry: dict[str, _Held] = {}
_registry_lock = threading.Lock()


def _held(root: Path) -> _Held:
    key = os.path.realpath(root)
    with _registry_lock:
        return _registry.setdefault(key, _Held())


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it (best effort: for the message only)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return ""
    return f" (process {text})" if text.isdigit() else ""


def _open(path: Path, root: Path) -> int:
    """The lock file, opened for locking: never through a link (it is truncated), never a
    directory or any other non-file.

    Raises:
        IndexWriteError: it is a link, a directory or another non-file, or cannot be made.
    """
    def refuse(kind: str) -> IndexWriteError:
        return IndexWriteError(f"The index's lock file {path} is a {kind}, not a file: remove it and try again.")

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse("symlink") from exc
        if exc.errno == errno.EISDIR:
            raise refuse("directory") from exc
        raise IndexWriteError.from_os_error(root, exc) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise refuse("special file")
    return fd


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def write_lock(root: str | Path, *, wait: bool = True, notify: Callable[[str], None] = _say) -> Iterator[None]:
    """Hold the index at ``root``'s writer lock for the ``with`` block.

    Args:
        root: the index folder (created when missing).
        wait: when another writer holds the lock, wait for it (saying so once through
            ``notify``); False raises :class:`IndexLockedError` at once instead.
        notify: where the one-line "waiting" message goes (default: stderr).

    Raises:
        IndexLockedError: ``wait`` is False and another writer holds the lock.
        IndexWriteError: the folder is read-only or cannot be made, or ``.lock`` is not a file.
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexWriteError.from_os_error(root, exc) from exc
    held = _held(root)
    path = root / LOCK_FILE
    busy = f"Another writer is updating the index at {root}{{who}}; try again when it has finished."
    if not held.thread_lock.acquire(blocking=False):
        if not wait:
            raise IndexLockedError(busy.format(who=" (in this process)"))
        notify(f"Waiting for another writer on the index at {root} (in this process)…")
        held.thread_lock.acquire()
    try:
        if held.depth == 0:
            fd = _open(path, root)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not wait:
                        raise IndexLockedError(busy.format(who=_holder(path))) from None
                    notify(f"Waiting for another writer on the index at {root}{_holder(path)}…")
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    os.ftruncate(fd, 0)
                    os.write(fd, str(os.getpid()).encode())
                except OSError:
                    pass  # who holds the lock is for the waiting message only (a full disk may refuse it)
            except BaseException:
                os.close(fd)
                raise
            held.fd = fd
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fd, held.fd = held.fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
    finally:
        held.thread_lock.release()

