"""The per-user cache folder (sample index, ONNX exports)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$NEWSDESK_CACHE_DIR``, else ``$XDG_CACHE_HOME/newsdesk``, else ``~/.cache/newsdesk``."""
    if os.environ.get("NEWSDESK_CACHE_DIR"):
        return Path(os.environ["NEWSDESK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsdesk"
