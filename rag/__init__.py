"""Retrieval and cited answers over an indexed news collection.

The public surface is :class:`Assistant` and the records it returns. They are imported on
first use, so ``import rag.config`` (the command line's parser) does not load the search
stack (BM25, FAISS, the readers: about a second).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.assistant import Assistant, Stats
    from rag.config import Config
    from rag.records import Answer, Choice, Citation, Passage

_HOMES = {"Assistant": "rag.assistant", "Stats": "rag.assistant", "Config": "rag.config", "Answer": "rag.records",
          "Choice": "rag.records", "Citation": "rag.records", "Passage": "rag.records"}

__all__ = ["Answer", "Assistant", "Choice", "Citation", "Config", "Passage", "Stats"]


def __getattr__(name: str):  # noqa: ANN202 - PEP 562: the export, imported now
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
