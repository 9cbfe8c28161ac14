"""Every exception Newsdesk raises on purpose lives here."""

from __future__ import annotations

import errno
import os


class NewsdeskError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ModelNotAvailableError(NewsdeskError):
    """A model (the embedding model or a cross-encoder) could not be loaded offline."""


class IndexMismatchError(NewsdeskError):
    """The index on disk was built with other settings than the ones configured.

    ``problem`` is what differs, without the advice on what to do that the message adds.
    """

    def __init__(self, message: str, *, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class IndexCorruptError(NewsdeskError):
    """Index files are missing, truncated or fail their checksum.

    ``problem`` is what is wrong, without the advice on what to do that the message adds.
    """

    def __init__(self, message: str, *, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class IndexNotFoundError(IndexCorruptError):
    """No index at the folder: it is missing, or holds no ``CURRENT`` file (none was built there).

    A subclass of IndexCorruptError because that is what a missing index raised before (and
    what ``IndexStore.load`` and ``Assistant.from_index`` documented): code that catches it
    keeps working, and new code can tell the two apart by catching this one first.
    """


class UnknownArticlesError(NewsdeskError):
    """None of the article ids given (to remove) is in the index; ``ids`` are those ids."""

    def __init__(self, message: str, *, ids: list[str]) -> None:
        super().__init__(message)
        self.ids = ids


class BuildInterrupted(KeyboardInterrupt):  # noqa: N818 - a KeyboardInterrupt, named as one
    """Ctrl-C stopped a build while it embedded: ``kept`` chunks embedded so far are kept in the
    index's embedding cache (the next build of the same articles reuses them), ``left`` are not."""

    def __init__(self, kept: int, left: int) -> None:
        super().__init__(kept, left)
        self.kept = kept
        self.left = left


class IndexLockedError(NewsdeskError):
    """Another writer holds the index's lock and the caller asked not to wait."""


class IndexWriteError(NewsdeskError):
    """The index folder could not be written (disk full, read-only, no permission, a lock file
    that is not a file); what was half written is removed and the index is left as it was."""

    @classmethod
    def from_os_error(cls, root: str | os.PathLike, exc: OSError) -> IndexWriteError:
        """The error for ``exc``, raised while writing the index at ``root``, in one line."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            why, advice = "the disk is full", "Free some space and try again."
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            why, advice = "the folder is read-only", "Make it writable, or use another --index folder."
        else:
            why, advice = "it failed", "Check the folder and try again."
        return cls(f"Could not write the index at {root}: {why} ({exc.strerror or exc}); the index is unchanged. "
                   f"{advice}")


class NoValidArticlesError(NewsdeskError):
    """An input held no article that could be indexed.

    ``load`` is the :class:`index.load.LoadReport` that found none, when there was one.
    """

    def __init__(self, message: str, *, load: object = None) -> None:
        super().__init__(message)
        self.load = load


class BackendError(NewsdeskError):
    """The search engine behind ``--backend-url`` cannot be reached, or refused a call."""


class ClusterError(NewsdeskError):
    """A Ray cluster for embedding could not be started or reached (``index/ray_embed.py``)."""
