"""The index folder on disk: versioned, checksummed, switched in atomically.

Layout::

    DIR/
      CURRENT                 name of the live version folder (replaced atomically)
      HISTORY                 names of the version folders that have been live (what restore goes back to)
      v-<time>-<rand>-m<sha>/ a version; <sha>: the first 24 hex digits of its manifest's SHA-256
        manifest.json         format version, model, dimension, chunking, counts, checksums
        articles.jsonl        cleaned articles, one per line (with content hashes)
        chunks.npz            per chunk: article row, start, end (text is sliced from the article)
        dense.faiss           the FAISS index over chunk embeddings (inner product, normalised)
        bm25/                 the bm25s index over headline + chunk terms
        bm25_articles/        the bm25s index over headline + whole-article terms
        stories.npz           story groups: MinHash signatures and copy pairs (index/dedup.py)
        terms.npz             term counts of each chunk and article, which both BM25 indexes are
                              computed from (an add tokenises only its own articles; index/sparse.py)
      .embed-cache/           vectors a build has embedded so far, kept when it is interrupted and
                              removed when one completes (index/embed_cache.py)

A writer builds a new version folder, fsyncs it, then replaces ``CURRENT`` with
``os.replace``: a crash at any point leaves the previous version live. A version is written
to ``HISTORY`` only once it has been live (the live one just before the switch, the new one
just after), so a complete version whose writer died before its switch is never restored.
Writers hold the index's lock (:mod:`index.lock`) for the whole read-modify-write, so two
never interleave, and only a lock holder deletes anything. A write that fails (a full disk,
a read-only folder) removes what it wrote at once and raises IndexWriteError.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from index import dedup, sparse
from index.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, IndexWriteError
from index.lock import write_lock
from index.records import Article, Chunk
from index.settings import FORMAT_VERSION, IVF_NPROBE, IndexSettings
from index.tokenize import tokenizer_signature

POINTER = "CURRENT"
MANIFEST = "manifest.json"
TERMS = "terms.npz"
_DATA_FILES = ("articles.jsonl", "chunks.npz", "dense.faiss")
# What ``CURRENT`` may hold: the name of a version folder right inside the index, nothing else
# (no separators, no "..": the pointer is never followed out of the index folder).
_VERSION_NAME = re.compile(r"v-[0-9A-Za-z-]{1,64}")
# What an error may quote of a ``CURRENT`` that names no version: a short printable would-be
# name; anything else (a file's first line reached through a link, control characters) is not shown.
_QUOTABLE = re.compile(r"v-[!-~]{1,64}")
MAX_POINTER_BYTES = 256  # CURRENT holds one version name and a newline
HISTORY = "HISTORY"
# A version folder's name ends in its manifest's SHA-256 (so a flipped byte in the manifest,
# say in a file's checksum, is blamed on the manifest); names without it are from before.
_SEAL = re.compile(r"-m([0-9a-f]{24})$")
SEAL_HEX_DIGITS = 24
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 16 << 20  # a manifest is a few kilobytes; more is damage, not read whole
MAX_HISTORY_BYTES = 1 << 16  # names of the versions on disk (pruning keeps two, restore adds none)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (index and model manifests)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(folder)


def _files(version: Path) -> list[Path]:
    return sorted(p for p in version.rglob("*") if p.is_file() and p.name != MANIFEST)


def _read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file at ``path``, read without following a symbolic link and
    without blocking (a FIFO); ``limit`` + 1 bytes at most.

    Raises:
        IndexCorruptError: ``path`` is a link, a directory or another non-file, or unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IndexCorruptError(f"{what} {path} is a symbolic link; an index never reads through one.") from exc
        raise IndexCorruptError(f"{what} {path} is unreadable ({exc.strerror}).") from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IndexCorruptError(f"{what} {path} is a directory, not a file.")
        if not stat.S_ISREG(mode):
            raise IndexCorruptError(f"{what} {path} is not a regular file.")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise IndexCorruptError(f"{what} {path} is unreadable ({exc.strerror}).") from exc
    finally:
        os.close(fd)


def current_version(root: Path) -> Path | None:
    """The live version folder of the index at ``root``, or None when there is none.

    Raises:
        IndexCorruptError: ``CURRENT`` is a link, not a file, unreadable, or names anything but a
            version folder right inside the index (a symbolic link to a folder is not one).
    """
    pointer = root / POINTER
    if not os.path.lexists(pointer):
        return None
    data = _read_regular(pointer, MAX_POINTER_BYTES, "Index pointer")
    name = data.decode("utf-8", errors="replace").strip()
    if len(data) > MAX_POINTER_BYTES or not _VERSION_NAME.fullmatch(name):
        said = f"names {name!r}" if _QUOTABLE.fullmatch(name) else "holds no version name"
        raise IndexCorruptError(f"Index pointer {pointer} {said}, which is not a version folder of this index.")
    version = root / name
    if version.is_symlink():
        raise IndexCorruptError(f"Index pointer {pointer} names {name!r}, which is a symbolic link, not a version "
                                "folder inside the index.")
    return version


def _live_name(root: Path) -> str:
    """The live version's name, or "" when there is none or ``CURRENT`` is damaged."""
    try:
        version = current_version(root)
    except IndexCorruptError:
        return ""
    return version.name if version is not None else ""


def intact_versions(root: str | Path, *, exclude: str = "") -> list[Path]:
    """Version folders at ``root`` other than ``exclude`` that pass every check, newest first."""
    root = Path(root)
    found = []
    for p in root.iterdir() if root.is_dir() else ():
        if p.name == exclude or p.is_symlink() or not p.is_dir() or not _VERSION_NAME.fullmatch(p.name):
            continue
        try:
            manifest = _read_manifest(p)
            _verify(p, manifest)
        except IndexCorruptError:
            continue
        found.append((manifest.get("built_at", ""), p.stat().st_mtime_ns, p))
    return [p for *_, p in sorted(found, key=lambda t: t[:2], reverse=True)]


def _was_live(root: Path) -> set[str] | None:
    """Names of the versions that have been live, or None for an index written before they were
    recorded (a damaged ``HISTORY`` counts as empty: a version is restored only when known live)."""
    path = root / HISTORY
    if not os.path.lexists(path):
        return None
    try:
        data = _read_regular(path, MAX_HISTORY_BYTES, "Index history")
    except IndexCorruptError:
        return set()
    return {name for name in data.decode("ascii", errors="replace").split() if _VERSION_NAME.fullmatch(name)}


def _record_live(root: Path, names: list[str]) -> None:
    """Add ``names`` to ``HISTORY`` (atomically; names whose folder is gone are dropped)."""
    logged = (_was_live(root) or set()) | set(names)
    kept = sorted(name for name in logged if (root / name).is_dir() and not (root / name).is_symlink())
    _write_atomically(root / HISTORY, "".join(name + "\n" for name in kept))


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with a file holding ``text``: written aside, fsynced, renamed over it
    (what is written aside is removed when that fails)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def restorable_versions(root: str | Path) -> list[Path]:
    """Intact versions other than the live one that have been live, newest first: what
    ``restore`` goes back to (never a version whose writer died before switching to it)."""
    root = Path(root)
    was_live = _was_live(root)
    return [p for p in intact_versions(root, exclude=_live_name(root)) if was_live is None or p.name in was_live]


def _advice(root: Path) -> str:
    """What to do about a damaged index: restore the intact previous version when there is one."""
    rebuild = f"newsdesk index build PATH... --index {root}"
    earlier = restorable_versions(root)
    if earlier:
        return (f"The previous version {earlier[0].name} is intact: restore it with "
                f"newsdesk index restore --index {root}, or rebuild with: {rebuild}")
    return f"Rebuild it with: {rebuild}"


def _read_manifest(version: Path) -> dict:
    """The manifest of ``version``, checked for the fields every index has.

    Raises:
        IndexCorruptError: unreadable, not an object, or lacking ``chunking``, ``model`` or
            ``checksums``, or with a checksum missing for a file the index needs or holds.
    """
    path = version / MANIFEST
    raw = _read_regular(path, MAX_MANIFEST_BYTES, "Index manifest")
    if len(raw) > MAX_MANIFEST_BYTES:
        raise IndexCorruptError(f"Index manifest {path} is over {MAX_MANIFEST_BYTES:,} bytes; a manifest is a few "
                                "kilobytes.")
    seal = _SEAL.search(version.name)
    if seal and hashlib.sha256(raw).hexdigest()[:SEAL_HEX_DIGITS] != seal.group(1):
        raise IndexCorruptError(f"Index manifest {path} is damaged (its SHA-256 does not match the one its "
                                "version folder is named with).")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise IndexCorruptError(f"Index manifest {path} is unreadable ({exc}).") from exc
    except RecursionError as exc:
        raise IndexCorruptError(f"Index manifest {path} is unreadable (nested too deeply).") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"Index manifest {path} is not a JSON object.")
    if "format_version" in manifest and manifest["format_version"] != FORMAT_VERSION:
        return manifest  # another format: refused as a mismatch by the caller, not as damage
    wrong = [key for key, kind in (("format_version", int), ("model", str), ("chunking", dict),
                                   ("checksums", dict)) if not isinstance(manifest.get(key), kind)]
    if wrong:
        raise IndexCorruptError(f"Index manifest {path} lacks {', '.join(wrong)}.")
    checksums = manifest["checksums"]
    # Every file the loader may read: the data files and whatever else the version holds
    # (bm25s reads its folders whole), bar hidden files a desktop may drop (.DS_Store).
    held = (p.relative_to(version) for p in _files(version))
    needed = [*_DATA_FILES, *(str(p) for p in held if not any(part.startswith(".") for part in p.parts))]
    unlisted = sorted({name for name in needed if name not in checksums})
    if not any(name.startswith("bm25/") for name in checksums):
        unlisted.append("bm25/")
    if unlisted:
        shown = ", ".join(unlisted[:5]) + (f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else "")
        raise IndexCorruptError(f"Index manifest {path} has no checksum for {shown}; "
                                "every file of an index must have one.")
    if not all(isinstance(d, str) and _SHA256.fullmatch(d) for d in checksums.values()):
        raise IndexCorruptError(f"Index manifest {path} has checksums that are not SHA-256 digests.")
    return manifest


def _verify(version: Path, manifest: dict) -> None:
    """Check every file of ``version`` against the manifest's SHA-256."""
    for name, digest in manifest["checksums"].items():
        path = version / name
        if not _inside(path, version) or not path.is_file():
            raise IndexCorruptError(f"Index file {path} is missing.")
        if file_sha256(path) != digest:
            raise IndexCorruptError(f"Index file {path} is corrupt (checksum mismatch).")


def _inside(path: Path, folder: Path) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)


def restore(root: str | Path, *, wait: bool = True) -> str:
    """Make the newest intact version that was live before the live one live again; returns its name.

    Raises:
        IndexCorruptError: no intact earlier version is on disk.
        IndexLockedError: ``wait`` is False and another writer holds the lock.
        IndexWriteError: the folder is read-only (or the disk full).
    """
    root = Path(root)
    with write_lock(root, wait=wait):
        earlier = restorable_versions(root)
        if not earlier:
            raise IndexCorruptError(f"No intact earlier version to restore at {root}. "
                                    f"Rebuild it with: newsdesk index build PATH... --index {root}")
        try:
            _switch(root, earlier[0].name)
        except OSError as exc:
            raise IndexWriteError.from_os_error(root, exc) from exc
        return earlier[0].name


def exists(root: str | Path) -> bool:
    """Whether an index is at ``root``: a ``CURRENT`` file or a version folder (intact or not)."""
    root = Path(root)
    return (root / POINTER).exists() or (root.is_dir() and any(
        p.is_dir() and _VERSION_NAME.fullmatch(p.name) for p in root.iterdir()))


@dataclass
class IndexStore:
    """A loaded index: articles, chunk offsets, the dense and the sparse index."""

    root: Path
    manifest: dict
    articles: list[Article]
    chunk_article: np.ndarray  # int32 row into ``articles`` for each chunk
    chunk_start: np.ndarray  # int64 character offsets into the article text
    chunk_end: np.ndarray
    dense: faiss.Index
    bm25: bm25s.BM25
    article_bm25: bm25s.BM25
    version: str = ""  # the version folder's name, to tell when the index on disk moved on
    stories: dedup.Stories | None = None  # None: grouped when loaded (see ``_stories``)

    def __post_init__(self) -> None:
        self.article_row = {a.id: i for i, a in enumerate(self.articles)}
        if self.stories is None:
            self.stories = dedup.group_stories(self.articles)
        # Article row -> row of its story group's first article (itself when it has no copy).
        group_of = self.stories.group_of
        self.story_row = np.array([self.article_row[group_of.get(a.id, a.id)] for a in self.articles],
                                  dtype=np.int64)
        groups: dict[int, list[int]] = {}
        for row, lead in enumerate(self.story_row.tolist()):
            groups.setdefault(lead, []).append(row)
        self._copies = {lead: rows for lead, rows in groups.items() if len(rows) > 1}

    def copies(self, row: int) -> list[int]:
        """Rows of the other articles in the story group of the article at ``row``."""
        return [r for r in self._copies.get(int(self.story_row[row]), ()) if r != row]

    @property
    def settings(self) -> IndexSettings:
        return IndexSettings(model=self.manifest["model"], **{
            k: v for k, v in self.manifest["chunking"].items() if k in IndexSettings.__dataclass_fields__
        })

    def __len__(self) -> int:
        return len(self.chunk_article)

    def chunk_id(self, i: int) -> str:
        """``<article id>#<n>``: the n-th chunk of its article (chunks are stored grouped, in order)."""
        a = self.articles[int(self.chunk_article[i])]
        return f"{a.id}#{i - int(np.searchsorted(self.chunk_article, self.chunk_article[i]))}"

    def chunk(self, i: int) -> Chunk:
        a = self.articles[int(self.chunk_article[i])]
        s, e = int(self.chunk_start[i]), int(self.chunk_end[i])
        return Chunk(id=self.chunk_id(i), article_id=a.id, text=a.text[s:e], start=s, end=e)

    def chunk_rows(self, article_id: str) -> np.ndarray:
        """Chunk rows of one article (chunks are stored grouped by article, in order)."""
        return self.chunk_rows_of(self.article_row[article_id])

    def chunk_rows_of(self, row: int) -> np.ndarray:
        """Chunk rows of the article at ``row`` of ``articles``."""
        lo = np.searchsorted(self.chunk_article, row, side="left")
        hi = np.searchsorted(self.chunk_article, row, side="right")
        return np.arange(lo, hi)

    def embeddings(self, rows: np.ndarray) -> np.ndarray:
        """Stored vectors of the given chunk rows (exact for flat indexes)."""
        if len(rows) == 0:
            return np.zeros((0, self.dense.d), dtype=np.float32)
        return np.vstack([self.dense.reconstruct(int(r)) for r in rows]).astype(np.float32)

    def term_counts(self) -> tuple[sparse.TermCounts, sparse.TermCounts] | None:
        """The stored term counts of the chunks and of the articles (what the two BM25 indexes
        were computed from), or None for a version without them or counted by another tokeniser."""
        path = self.root / self.version / TERMS
        if not self.version or not path.exists() or self.manifest.get("terms") != tokenizer_signature():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                chunks = sparse.TermCounts.from_arrays(arrays, "chunk", self.bm25.vocab_dict)
                articles = sparse.TermCounts.from_arrays(arrays, "article", self.article_bm25.vocab_dict)
        except (OSError, ValueError, KeyError):
            return None
        if chunks is None or articles is None or len(chunks) != len(self) or len(articles) != len(self.articles):
            return None
        return chunks, articles

    def has_vector(self) -> np.ndarray:
        """Boolean per chunk row: does it have a dense vector (see ``dense_chunks_per_article``)?"""
        out = np.zeros(len(self), dtype=bool)
        out[faiss.vector_to_array(self.dense.id_map)] = True
        return out

    @classmethod
    def load(cls, root: str | Path, *, settings: IndexSettings | None = None, verify: bool = True) -> IndexStore:
        """Load the live version of the index at ``root``.

        Args:
            root: the index folder (the one given as ``--index``).
            settings: when given, the manifest must match its model and chunking.
            verify: check file checksums against the manifest.

        Raises:
            IndexNotFoundError: no index there (no folder, or no ``CURRENT`` in it).
            IndexCorruptError: files missing, truncated or changed.
            IndexMismatchError: built with another model, chunking or format version.
        """
        root = Path(root)
        try:
            for _attempt in range(3):
                version = current_version(root)
                try:
                    return cls._load_version(root, version, settings=settings, verify=verify)
                except IndexCorruptError:
                    # A writer switched versions while we read (and pruned the one we were
                    # reading): read the new one. Damage that stays put is raised.
                    if version is None or current_version(root) == version:
                        raise
            raise IndexCorruptError(f"Index at {root} kept changing while it was read; try again.")
        except IndexNotFoundError:
            raise
        except IndexCorruptError as exc:
            raise IndexCorruptError(f"{exc} {_advice(root)}", problem=str(exc)) from exc.__cause__

    @classmethod
    def _load_version(cls, root: Path, version: Path | None, *, settings: IndexSettings | None,
                      verify: bool) -> IndexStore:
        rebuild = f"Rebuild it with: newsdesk index build PATH... --index {root}"
        if version is None:
            raise _not_found(root)
        manifest = _read_manifest(version)
        if manifest.get("format_version") != FORMAT_VERSION:
            problem = (f"Index at {root} has format version {manifest.get('format_version')!r}; this Newsdesk "
                       f"reads version {FORMAT_VERSION}")
            raise IndexMismatchError(f"{problem}. {rebuild}", problem=problem)
        if settings is not None:
            check_compatible(manifest, settings, root)
        if verify:
            _verify(version, manifest)
        try:
            with open(version / "articles.jsonl", encoding="utf-8") as f:
                articles = [Article.from_dict(json.loads(line)) for line in f]
            arrays = np.load(version / "chunks.npz")
            dense = faiss.read_index(str(version / "dense.faiss"))
            if "IVF" in manifest.get("faiss_factory", ""):
                faiss.extract_index_ivf(dense).nprobe = manifest.get("ivf_nprobe", IVF_NPROBE)
            bm25 = bm25s.BM25.load(str(version / "bm25"))
            # Indexes written before the article index existed: build it now (seconds).
            article_index = (bm25s.BM25.load(str(version / "bm25_articles"))
                             if (version / "bm25_articles").exists() else sparse.article_bm25(articles))
            stories = _stories(version, manifest, articles)
        except Exception as exc:
            raise IndexCorruptError(f"Index at {version} could not be read ({exc}).") from exc
        return cls(
            root=root, manifest=manifest, articles=articles, chunk_article=arrays["article"],
            chunk_start=arrays["start"], chunk_end=arrays["end"], dense=dense, bm25=bm25,
            article_bm25=article_index, version=version.name, stories=stories,
        )


def _not_found(root: Path) -> IndexNotFoundError:
    """The error for a folder that holds no index (or is not there)."""
    said = f"No index found at {root} ({'no such folder' if not root.exists() else f'no {POINTER} file'})."
    build = f"newsdesk index build PATH... --index {root}"
    earlier = restorable_versions(root) if root.is_dir() else []
    advice = (f"Its version {earlier[0].name} is intact: make it live with newsdesk index restore --index {root}, "
              f"or build anew with: {build}" if earlier else f"Build one with: {build}")
    return IndexNotFoundError(f"{said} {advice}", problem=said)


def _stories(version: Path, manifest: dict, articles: list[Article]) -> dedup.Stories | None:
    """The stored story groups, or None (grouped anew on load) for an index written before they
    were stored or with other grouping parameters."""
    path = version / "stories.npz"
    if not path.exists() or manifest.get("stories") != dedup.params():
        return None
    with np.load(path, allow_pickle=False) as arrays:
        stories = dedup.Stories.from_arrays(arrays, articles)
    if stories.ids != tuple(a.id for a in articles):
        raise IndexCorruptError(f"Index file {path} does not list the index's articles.")
    return stories


def check_compatible(manifest: dict, settings: IndexSettings, root: Path) -> None:
    """Raise IndexMismatchError when ``manifest`` was built with other settings."""
    problems = []
    if manifest["model"] != settings.model:
        problems.append(f"embedding model {manifest['model']!r} (configured: {settings.model!r})")
    wanted = settings.chunking()
    for key, value in wanted.items():
        if manifest["chunking"].get(key) != value:
            problems.append(f"{key}={manifest['chunking'].get(key)!r} (configured: {value!r})")
    if problems:
        problem = f"Index at {root} was built with " + "; ".join(problems)
        raise IndexMismatchError(
            f"{problem}. Rebuild it with these settings (newsdesk index build PATH... --index {root}) "
            "or configure the settings it was built with.", problem=problem)


def write_store(
    root: str | Path, *, articles: list[Article], chunk_article: np.ndarray, chunk_start: np.ndarray,
    chunk_end: np.ndarray, dense: faiss.Index, bm25: bm25s.BM25, article_bm25: bm25s.BM25, settings: IndexSettings,
    dimension: int, extra: dict | None = None, wait: bool = True, stories: dedup.Stories | None = None,
    terms: tuple[sparse.TermCounts, sparse.TermCounts] | None = None,
) -> Path:
    """Write a new version of the index at ``root`` and make it live atomically (under the
    index's writer lock; ``wait=False`` raises IndexLockedError when another writer holds it)."""
    root = Path(root)
    with write_lock(root, wait=wait):
        return _write_version(root, articles=articles, chunk_article=chunk_article, chunk_start=chunk_start,
                              chunk_end=chunk_end, dense=dense, bm25=bm25, article_bm25=article_bm25,
                              settings=settings, dimension=dimension, extra=extra, stories=stories, terms=terms)


def _write_version(
    root: Path, *, articles: list[Article], chunk_article: np.ndarray, chunk_start: np.ndarray,
    chunk_end: np.ndarray, dense: faiss.Index, bm25: bm25s.BM25, article_bm25: bm25s.BM25, settings: IndexSettings,
    dimension: int, extra: dict | None, stories: dedup.Stories | None = None,
    terms: tuple[sparse.TermCounts, sparse.TermCounts] | None = None,
) -> Path:
    # Names sort in creation order, also for versions written within one second.
    now = time.time_ns()
    stem = f"v-{time.strftime('%Y%m%dT%H%M%S', time.localtime(now // 10**9))}-{now % 10**9:09d}-{uuid.uuid4().hex[:6]}"
    tmp = root / f".tmp-{stem}"
    version: Path | None = None
    previous = _live_name(root)
    try:
        tmp.mkdir()
        manifest_bytes = _write_files(tmp, articles=articles, chunk_article=chunk_article, chunk_start=chunk_start,
                                      chunk_end=chunk_end, dense=dense, bm25=bm25, article_bm25=article_bm25,
                                      settings=settings, dimension=dimension, extra=extra, stories=stories,
                                      terms=terms)
        version = root / sealed_name(stem, manifest_bytes)
        os.replace(tmp, version)
        _switch(root, version.name)
    except BaseException as exc:
        # Under the lock nobody else reads what this write made: remove it now, not at the next
        # write (a full disk stays full otherwise). A version already live is kept.
        shutil.rmtree(tmp, ignore_errors=True)
        if version is not None and _live_name(root) != version.name:
            shutil.rmtree(version, ignore_errors=True)
        if isinstance(exc, OSError):
            raise IndexWriteError.from_os_error(root, exc) from exc
        raise
    try:
        _prune(root, keep={version.name, previous})
    except OSError:
        pass  # the new version is live; what is left is removed by the next write
    return version


def _write_files(
    tmp: Path, *, articles: list[Article], chunk_article: np.ndarray, chunk_start: np.ndarray,
    chunk_end: np.ndarray, dense: faiss.Index, bm25: bm25s.BM25, article_bm25: bm25s.BM25, settings: IndexSettings,
    dimension: int, extra: dict | None, stories: dedup.Stories | None,
    terms: tuple[sparse.TermCounts, sparse.TermCounts] | None = None,
) -> bytes:
    """Write a version's files into ``tmp`` and fsync them; returns the manifest's bytes."""
    with open(tmp / "articles.jsonl", "w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
    np.savez(tmp / "chunks.npz", article=chunk_article.astype(np.int32),
             start=chunk_start.astype(np.int64), end=chunk_end.astype(np.int64))
    # Serialised here and written by Python, as FAISS's own writer does not report a failed close
    # (a disk that fills up would leave a short file behind); a write error raises OSError.
    with open(tmp / "dense.faiss", "wb") as f:
        f.write(faiss.serialize_index(dense))
    bm25.save(str(tmp / "bm25"))
    article_bm25.save(str(tmp / "bm25_articles"))
    stories = stories or dedup.group_stories(articles)
    np.savez(tmp / "stories.npz", **stories.to_arrays())
    if terms is not None:  # their vocabularies are the two bm25s indexes' own
        np.savez(tmp / TERMS, **terms[0].to_arrays("chunk"), **terms[1].to_arrays("article"))
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": settings.model,
        "dimension": dimension,
        "normalized": True,
        "metric": "inner_product",
        "chunking": settings.chunking(),
        "counts": {"articles": len(articles), "chunks": int(len(chunk_article))},
        "stories": dedup.params(),
        **({"terms": tokenizer_signature()} if terms is not None else {}),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
        "checksums": {str(p.relative_to(tmp)): file_sha256(p) for p in _files(tmp)},
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    (tmp / MANIFEST).write_bytes(manifest_bytes)
    _fsync_tree(tmp)
    return manifest_bytes


def sealed_name(name: str, manifest_bytes: bytes) -> str:
    """The version folder name ``name`` (less any seal it has) sealed with ``manifest_bytes``' SHA-256."""
    return _SEAL.sub("", name) + "-m" + hashlib.sha256(manifest_bytes).hexdigest()[:SEAL_HEX_DIGITS]


def _switch(root: Path, name: str) -> None:
    """Point ``CURRENT`` at the version folder ``name`` with one atomic rename.

    Raises:
        IndexCorruptError: ``CURRENT`` is a directory that is not empty (an empty one is removed).
    """
    pointer = root / POINTER
    if pointer.is_dir() and not pointer.is_symlink():
        try:
            pointer.rmdir()  # a rename cannot replace a directory with a file
        except OSError as exc:
            raise IndexCorruptError(
                f"Index pointer {pointer} is a directory, not the file naming the live version, and it is not "
                f"empty: move it away (mv {pointer} {pointer}.moved) and run the command again.") from exc
    # Before the switch the live version is logged (so restore can go back to it), after it
    # the new one (so a damaged CURRENT can be restored to it); never one that was not live.
    _record_live(root, [live] if (live := _live_name(root)) else [])
    _write_atomically(pointer, name + "\n")
    _fsync_dir(root)
    try:
        _record_live(root, [name])
    except OSError:
        pass  # the switch is done; the next one logs this version as the live one


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(root: Path, keep: set[str]) -> None:
    """Remove old versions and leftovers of crashed writes; keep the live and previous one
    (a reader that loaded the previous version a moment ago can still open its files, and it
    is the version ``restore`` goes back to).

    Called only with the writer lock held: every writer holds it from before it makes its
    ``.tmp-`` folder until after its switch, so any ``.tmp-`` folder seen here belongs to a
    writer that died, never to a live one.
    """
    for p in root.iterdir():
        if p.name in keep or p.name == POINTER:
            continue
        if p.is_symlink() and (p.name.startswith("v-") or p.name.startswith(".tmp-v-")):
            p.unlink()  # a link posing as a version: removed, never followed
        elif p.is_dir() and (p.name.startswith("v-") or p.name.startswith(".tmp-v-")):
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith((f".{POINTER}.", f".{HISTORY}.")):
            p.unlink(missing_ok=True)
