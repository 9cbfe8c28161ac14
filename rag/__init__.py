"""Retrieval and cited answers over an indexed news collection.

The public surface is :class:`Assistant` and the records it returns.
"""

from rag.assistant import Assistant, Stats
from rag.config import Config
from rag.records import Answer, Choice, Citation, Passage

__all__ = ["Answer", "Assistant", "Choice", "Citation", "Config", "Passage", "Stats"]
