"""Vectors a build has embedded so far, in the index folder: an interrupted build resumes.

A build embeds its new chunks in slices and appends each slice's vectors to
``DIR/.embed-cache/`` (one file per slice, written aside and renamed in, so a crash leaves
whole files only). Each vector is keyed by the SHA-256 of the model name, its input length
and the exact text embedded, so a rerun finds the chunks it already embedded whatever else
changed, and never takes a vector of another model. The folder is removed once a build
completes (its vectors are then in the index). Only the index's writer (under its lock)
reads or writes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

FOLDER = ".embed-cache"


class EmbedCache:
    """The embedding cache of the index at ``root`` for one model (see the module docstring)."""

    def __init__(self, root: str | Path, *, model: str, max_seq_length: int) -> None:
        self.folder = Path(root) / FOLDER
        self._salt = f"{model}\x1f{max_seq_length}\x1f".encode()
        self._broken = False  # a slice could not be written (disk full): stop trying, go on embedding

    def key(self, text: str) -> bytes:
        """The cache key of ``text``: 32 hex digits of SHA-256 over the model, length and text."""
        return hashlib.sha256(self._salt + text.encode("utf-8", "surrogatepass")).hexdigest()[:32].encode()

    def lookup(self, keys: list[bytes]) -> dict[int, np.ndarray]:
        """Position in ``keys`` -> cached vector, for the keys the cache holds."""
        found: dict[bytes, np.ndarray] = {}
        for path in sorted(self.folder.glob("part-*.npz")) if self.folder.is_dir() else ():
            try:
                with np.load(path, allow_pickle=False) as part:
                    found.update(zip(part["keys"].tolist(), part["vectors"]))
            except (OSError, ValueError, KeyError):
                continue  # unreadable: those chunks are embedded again
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def save(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Append ``vectors`` under ``keys``; a failure to write is ignored (the build goes on,
        that slice just is not kept)."""
        if self._broken or not keys:
            return
        name = f"part-{uuid.uuid4().hex[:12]}.npz"
        tmp = self.folder / f".{name}"
        try:
            self.folder.mkdir(exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, keys=np.array(keys, dtype="S32"), vectors=np.asarray(vectors, dtype=np.float32))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / name)
        except OSError:
            self._broken = True
            tmp.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove the cache (a build completed: its vectors are in the index)."""
        shutil.rmtree(self.folder, ignore_errors=True)
