"""``newsdesk index watch DIR --index IDX``: add files to an index as they land in a folder.

The folder is polled. A file (of a format :func:`index.load.load_articles` reads; hidden
files and others, such as a download still named ``.part``, are passed over) is taken once
its size and modification time have stayed the same for one poll, so a file still being
written is not read half-way. Each poll's new or changed files are one batch: loaded,
then added with :func:`index.build.add_articles` under the index's writer lock, like every
other writer, and reported in one line (plus the load report's problems, if any). Files
already there when the watch starts are the first batch; unchanged articles are not
embedded again. A file deleted from the folder stays in the index (remove it by id).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from index.backend import SearchBackend
from index.build import BuildReport, add_articles
from index.embed import Embedder
from index.load import SUFFIXES, LoadReport, file_format, load_articles, printable
from index.plural import plural
from index.settings import IndexSettings

DEFAULT_INTERVAL = 2.0  # seconds between polls: a file is taken one to two polls after it lands


@dataclass
class Batch:
    """One batch of landed files and what adding them did."""

    number: int
    files: list[Path]
    load: LoadReport
    build: BuildReport | None  # None when the files held no valid article
    seconds: float = 0.0

    def line(self) -> str:
        """The batch in one line, e.g. "batch 2: 3 files, 40 articles (38 added, 2 replaced), 1 skipped"."""
        n = len(self.files)
        head = f"batch {self.number}: {n} file{'s' if n != 1 else ''}"
        if self.build is None:
            return f"{head}, no valid article ({self.load.skipped:,} skipped); the index is unchanged"
        b = self.build
        skipped = f", {self.load.skipped:,} skipped" if self.load.skipped else ""
        state = "already indexed" if b.up_to_date else f"{b.added:,} added, {b.changed:,} replaced"
        n = len(self.load.articles)
        return (f"{head}, {plural(n, 'article')} ({state}){skipped}; the index holds "
                f"{plural(b.articles, 'article')}; {self.seconds:.1f} s")


@dataclass
class Watcher:
    """Polls ``folder`` and adds what lands there to the index at ``index_dir``.

    Args:
        folder: the folder to watch (walked recursively, as ``load_articles`` walks one).
        index_dir: the index to add to (made on the first batch when there is none).
        settings: index settings (must match the index).
        embedder: the model, loaded once for all batches (default: the settings' model).
        backend: a search engine synced with each batch (``index.backend``); None: the folder only.
        interval: seconds between polls.
        report: called with each batch's line and its load problems (grouped by kind when many).
        problems: a file that every load problem is written to, one JSON line each (emptied
            when the watch starts, appended to by each batch); None: none.
    """

    folder: Path
    index_dir: Path
    settings: IndexSettings = field(default_factory=IndexSettings)
    embedder: Embedder | None = None
    backend: SearchBackend | None = None
    interval: float = DEFAULT_INTERVAL
    report: Callable[[str], None] = print
    problems: Path | None = None
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict, init=False)  # file -> (size, mtime) added
    _last: dict[Path, tuple[int, int]] = field(default_factory=dict, init=False)  # file -> as seen last poll
    batches: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.folder, self.index_dir = Path(self.folder), Path(self.index_dir)
        if not self.folder.is_dir():
            raise NotADirectoryError(f"{self.folder} is not a folder")
        if self.interval <= 0:
            raise ValueError(f"interval must be positive, got {self.interval!r}")
        if self.embedder is None:
            s = self.settings
            self.embedder = Embedder(s.model, device=s.device, batch_size=s.batch_size,
                                     max_seq_length=s.max_seq_length, backend=s.backend)
        if self.problems is not None:
            self.problems = Path(self.problems)
            self.problems.write_text("", encoding="utf-8")

    def _scan(self) -> dict[Path, tuple[int, int]]:
        found = {}
        for folder, dirs, files in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                path = Path(folder) / name
                if name.startswith(".") or file_format(path) not in SUFFIXES or self._is_problems_file(path):
                    continue
                try:
                    info = path.stat()
                except OSError:  # gone between the listing and the stat
                    continue
                found[path] = (info.st_size, info.st_mtime_ns)
        return found

    def _is_problems_file(self, path: Path) -> bool:
        """Whether ``path`` is the problems file (a .jsonl that may sit in the folder: never read back in)."""
        if self.problems is None or path.name != self.problems.name:
            return False
        try:
            return os.path.samefile(path, self.problems)
        except OSError:
            return False

    def poll(self) -> Batch | None:
        """One poll: add the files that settled since the last one; None when there were none."""
        now = self._scan()
        ready = [p for p, sig in now.items() if self._last.get(p) == sig and self._seen.get(p) != sig]
        self._last = now
        if not ready:
            return None
        t0 = time.perf_counter()
        loaded = load_articles(ready)
        build = None
        if loaded.articles:
            build = add_articles(self.index_dir, loaded.articles, settings=self.settings, embedder=self.embedder,
                                 progress=False, backend=self.backend)
        for p in ready:
            self._seen[p] = now[p]
        self.batches += 1
        batch = Batch(self.batches, ready, loaded, build, time.perf_counter() - t0)
        self.report(batch.line())
        for line in loaded.problem_lines():
            self.report(line)
        if self.problems is not None and loaded.problems:
            loaded.write_problems(self.problems, append=True)
            n = len(loaded.problems)
            self.report(f"  ({n:,} problem{'s' if n != 1 else ''} appended to {printable(str(self.problems))})")
        return batch

    def run(self, *, stop: threading.Event | None = None, once: bool = False) -> None:
        """Poll until ``stop`` is set (or Ctrl-C); ``once`` takes what is there and returns."""
        stop = stop or threading.Event()
        self._last = self._scan()  # what is there now counts as settled for the first batch
        while True:
            self.poll()
            if once or stop.wait(self.interval):
                return
