"""The assistant that command-line style options describe, in one place below the CLI and the UI.

``newsdesk ask/chat`` and ``newsdesk serve`` both open their collection here, so the UI never
imports the command line (which imports the UI).
"""

from __future__ import annotations

from collections.abc import Mapping

from rag.assistant import Assistant
from rag.config import config_from_options


def assistant_from_options(options: Mapping[str, object], *, progress: bool = True) -> Assistant:
    """The :class:`Assistant` for ``options`` (``vars(args)``): ``index`` is the folder (None:
    the bundled sample, built on first use), every other option goes through
    :func:`rag.config.config_from_options`."""
    index = options.get("index")
    return Assistant.from_index(None if index is None else str(index), config=config_from_options(options),
                                progress=progress)
