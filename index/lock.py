"""One writer at a time per index folder: an exclusive ``flock`` on ``DIR/.lock``.

The operating system drops a ``flock`` when its holder exits, however it exits, so a
crashed or killed writer never leaves the index locked. The lock is re-entrant within a
thread (``add_articles`` -> ``write_collection`` -> ``write_store`` each take it) and
serialises threads of one process too (a second ``open`` + ``flock`` in the same process
would otherwise block on itself).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IndexLockedError

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
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
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
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not wait:
                        raise IndexLockedError(busy.format(who=_holder(path))) from None
                    notify(f"Waiting for another writer on the index at {root}{_holder(path)}…")
                    fcntl.flock(fd, fcntl.LOCK_EX)
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
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

