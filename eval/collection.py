"""The dataset's index: built on first use, reused (or updated incrementally) afterwards.

This is the one place the evaluation reaches below :class:`rag.Assistant`: it calls
:func:`index.build.build_index`, which embeds only articles that are new or changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from eval.data import Dataset
from index.build import build_index
from index.settings import IndexSettings
from index.store import MANIFEST, current_version
from rag.assistant import cache_dir


@dataclass(frozen=True)
class IndexInfo:
    """Where the index is and what building it cost.

    Attributes:
        index_dir: the index folder.
        chunks: chunks in the index.
        build_seconds: wall time of the build that wrote the index; when this run found it
            up to date, the time recorded in its manifest.
        chunks_per_second: chunks embedded per second of that build (None when unknown).
        up_to_date: the index already held exactly the dataset's articles.
    """

    index_dir: Path
    chunks: int
    build_seconds: float | None
    chunks_per_second: float | None
    up_to_date: bool

    def to_dict(self) -> dict:
        return {"index_dir": str(self.index_dir), "chunks": self.chunks, "build_seconds": self.build_seconds,
                "chunks_per_second": self.chunks_per_second, "up_to_date": self.up_to_date}


def default_index_dir(dataset: Dataset, settings: IndexSettings) -> Path:
    """``cache_dir()/eval-<name>-<hash>``, the hash over the articles file's path and the settings.

    The path, not the file's content, is hashed so that an edited collection updates the same
    folder incrementally instead of starting a new one from scratch.
    """
    key = json.dumps({"articles": str(dataset.articles_path.resolve()), "model": settings.model,
                      "chunking": settings.chunking()}, sort_keys=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset.name).strip("-") or "dataset"
    return cache_dir() / f"eval-{slug}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def prepare_index(dataset: Dataset, *, settings: IndexSettings, index_dir: str | Path | None = None,
                  progress: bool = True) -> IndexInfo:
    """Make the index at ``index_dir`` (default :func:`default_index_dir`) hold the dataset's articles.

    Note that a given ``index_dir`` is made to hold exactly these articles: others are removed.

    Raises:
        NoValidArticlesError: the articles file holds no valid article.
    """
    index_dir = Path(index_dir) if index_dir else default_index_dir(dataset, settings)
    report = build_index([dataset.articles_path], index_dir, settings=settings, progress=progress)
    if not report.up_to_date:
        return IndexInfo(index_dir, report.chunks, report.seconds,
                         report.embedded_chunks / report.seconds if report.seconds > 0 else None, False)
    # A reused index took ~0 s now; report what building it took, as its manifest recorded.
    recorded = _recorded_build(index_dir)
    seconds, embedded = recorded.get("seconds"), recorded.get("embedded_chunks")
    rate = embedded / seconds if seconds and embedded is not None else None
    return IndexInfo(index_dir, report.chunks, seconds, rate, True)


def _recorded_build(index_dir: Path) -> dict:
    version = current_version(index_dir)
    try:
        return json.loads((version / MANIFEST).read_text()).get("build") or {}
    except (OSError, TypeError, ValueError):
        return {}
