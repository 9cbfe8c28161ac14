"""Counts in words: "1 article", "2,357 articles"."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` (with thousands separators) and ``noun``, in the plural (``many``, else ``noun`` + "s")
    unless ``n`` is one."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"
