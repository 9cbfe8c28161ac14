"""Optional last reranking stage: a cross-encoder the user has, read from a folder.

A cross-encoder reads the question and a passage together, so it can tell which passage
answers rather than which one shares words. None ships with Newsdesk (PyPI has no such
model), so this stage is off unless ``Config.cross_encoder`` names one: a local
sentence-transformers ``CrossEncoder`` folder, or a name already in the Hugging Face cache
(for example ``cross-encoder/ms-marco-MiniLM-L6-v2``). Nothing is downloaded.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import cached_property

import numpy as np

import index.embed  # noqa: F401 - sets the offline guards (HF_HUB_OFFLINE...) before transformers loads
from index.errors import ModelNotAvailableError
from rag.records import Passage


class CrossEncoderReranker:
    """Re-orders the top passages by a cross-encoder's score for (query, headline + passage).

    Args:
        model: folder or cached name of a sentence-transformers cross-encoder.
        device: ``cpu``, ``cuda`` or ``None`` (best available).
        batch_size: pairs per forward pass.
    """

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = 32) -> None:
        self.name = model
        self.device = device
        self.batch_size = batch_size
        # A fast tokenizer changes its padding settings during each call: calls must not overlap.
        self._lock = threading.Lock()

    @cached_property
    def model(self):  # noqa: ANN201 - CrossEncoder, imported lazily (torch is slow to import)
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            return CrossEncoder(self.name, device=self.device, local_files_only=True)
        except Exception as exc:  # OSError, ValueError, FileNotFoundError, HF errors: all mean "not here"
            raise ModelNotAvailableError(
                f"Could not load cross-encoder {self.name!r} offline: {exc}. Give a local folder with a "
                "sentence-transformers CrossEncoder model, or a model already in the Hugging Face cache; "
                "nothing is downloaded."
            ) from exc

    def load(self) -> None:
        """Load the model now, so a bad path fails at start rather than at the first question."""
        _ = self.model

    def scores(self, query: str, passages: list[Passage]) -> np.ndarray:
        """The model's score for each passage (higher is better)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, f"{p.title}\n{p.text}" if p.title else p.text) for p in passages]
        with self._lock:
            out = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False,
                                     convert_to_numpy=True)
        out = np.asarray(out, dtype=np.float32)
        # A model with several labels (e.g. NLI) gives a row per pair; the last label is the
        # "relevant"/"entailment" one by the usual convention.
        return out[:, -1] if out.ndim == 2 else out

    def run(self, query: str, passages: list[Passage], *, top: int) -> list[Passage]:
        """``passages`` with the first ``top`` re-ordered by the model (each carrying its model
        score); the rest follow unchanged. Ties keep the retrieval order."""
        head, tail = passages[:top], passages[top:]
        scores = self.scores(query, head)
        order = np.argsort(-scores, kind="stable")
        return [replace(head[i], score=float(scores[i])) for i in order] + list(tail)
