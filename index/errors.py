"""Every exception Newsdesk raises on purpose lives here."""


class NewsdeskError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ModelNotAvailableError(NewsdeskError):
    """A model (the embedding model or a cross-encoder) could not be loaded offline."""


class IndexMismatchError(NewsdeskError):
    """The index on disk was built with other settings than the ones configured."""


class IndexCorruptError(NewsdeskError):
    """Index files are missing, truncated or fail their checksum.

    ``problem`` is what is wrong, without the advice on what to do that the message adds.
    """

    def __init__(self, message: str, *, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class IndexLockedError(NewsdeskError):
    """Another writer holds the index's lock and the caller asked not to wait."""


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
