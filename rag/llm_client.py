"""A small client for OpenAI-compatible ``/v1/chat/completions`` endpoints, standard library only.

It speaks to Ollama, vLLM, llama.cpp's server, LM Studio and OpenAI alike. Every failure
(connection refused, timeout, HTTP errors, malformed or empty replies, a stream cut off
mid-way) is raised as :class:`LLMError` with a message that names the endpoint and the
cause, so callers can fall back to the offline answer instead of showing a traceback.

Every call has a hard deadline and a byte cap: when the deadline passes, the call's sockets
are shut down (so a read blocked on a server that trickles or stalls returns at once), and
the reply is read in pieces and counted, so no reply is read past the cap.
"""

from __future__ import annotations

import contextvars
import email.utils
import functools
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, overload

from index.errors import NewsdeskError
from rag.config import LLM_DEADLINE_S, LLM_MAX_BYTES, Config

ENV_BASE_URL = "NEWSDESK_LLM_BASE_URL"
ENV_MODEL = "NEWSDESK_LLM_MODEL"
ENV_API_KEY = "NEWSDESK_LLM_API_KEY"
ENV_OPENAI_API_KEY = "OPENAI_API_KEY"
CHAT_PATH = "/chat/completions"

# Rate limits and server hiccups are worth another try; a 400/401/404 will not change on retry.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_S = 1.0
# A server may ask for minutes of Retry-After; waiting that long is worse than the offline answer.
MAX_RETRY_WAIT_S = 30.0
# Characters of a server's error body quoted in messages: enough to show its reason.
ERROR_BODY_CHARS = 200
# Bytes of an error body read for that quote (UTF-8 takes up to 4 bytes a character).
ERROR_BODY_BYTES = 4 * ERROR_BODY_CHARS
# Bytes asked of the connection per read: the reply is counted against the byte cap as it comes.
READ_CHUNK = 64 * 1024
# Shortest socket timeout given to a try that starts just before the deadline (0 would not block).
MIN_WAIT_S = 0.01
# Loopback endpoints (Ollama, llama.cpp, ...) must not be sent through an HTTP proxy from the environment.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

Message = dict[str, str]


class LLMError(NewsdeskError):
    """The language-model endpoint failed: unreachable, too slow, refusing, or answering nonsense."""


class _Call:
    """One call's deadline and byte count. When the deadline passes, the sockets the call opened
    are shut down, so a read blocked on a server that trickles (or sends nothing) returns."""

    def __init__(self, deadline: float, max_bytes: int) -> None:
        self.expires = time.monotonic() + deadline
        self.max_bytes = max_bytes
        self.received = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._expired = False
        self._timer = threading.Timer(deadline, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    @property
    def passed(self) -> bool:
        return self._expired or self.remaining() <= 0

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (now, if it has)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self._expired
        if expired:
            _shut(sock)

    def end(self) -> None:
        """The call is over: its sockets are left alone from now on."""
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        # The plain socket's shutdown: an SSL socket's own would also unwrap it under the reading thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


# The call under way in this thread: the connections it opens are handed to it (see _watched).
_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("newsdesk_llm_call", default=None)


def _watched(http_class: Any, *args: Any, **kwargs: Any) -> http.client.HTTPConnection:
    """An ``http_class`` connection whose socket, once connected, the current call watches."""
    connection = http_class(*args, **kwargs)
    call = _CALL.get()
    if call is not None:
        connect = connection.connect

        def watched_connect() -> None:
            connect()
            call.watch(connection.sock)

        connection.connect = watched_connect
    return connection


class _WatchedConnections:
    """Mixin for urllib's HTTP(S) handlers: the current call watches every connection they open."""

    def do_open(self, http_class: Any, req: urllib.request.Request, **http_conn_args: Any) -> Any:
        return super().do_open(functools.partial(_watched, http_class), req, **http_conn_args)  # type: ignore[misc]


class _HTTPHandler(_WatchedConnections, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedConnections, urllib.request.HTTPSHandler):
    pass


def resolve_endpoint(config: Config) -> tuple[str | None, str | None, str | None]:
    """Base url, model and API key: the config's values, else the environment's.

    The key comes from ``NEWSDESK_LLM_API_KEY``, falling back to ``OPENAI_API_KEY``.
    """
    base_url = config.generator.base_url or os.environ.get(ENV_BASE_URL) or None
    model = config.generator.model or os.environ.get(ENV_MODEL) or None
    api_key = config.generator.api_key or os.environ.get(ENV_API_KEY) or os.environ.get(ENV_OPENAI_API_KEY) or None
    return base_url, model, api_key


class LLMClient:
    """Sends chat requests to one endpoint, with a timeout, bounded retries, and a deadline and byte cap per call.

    Args:
        base_url: the API root, e.g. ``http://localhost:11434/v1`` (``/chat/completions`` is added;
            a url that already ends with it is used as is).
        model: model name at that endpoint.
        api_key: sent as a bearer token when given.
        timeout: seconds to wait for the connection and for each read (so a stalled stream fails too).
        deadline: seconds one call may take in all: connecting, retries and the whole reply.
        max_bytes: bytes of reply one call may read.
        temperature: sampling temperature.
        max_tokens: most tokens the model may write.
        retries: further tries after a 429 or 5xx, with exponential backoff honouring ``Retry-After``.
        backoff: seconds before the first retry; doubled for each next one.

    Raises:
        LLMError: ``base_url`` is not an http(s) url, or ``model`` is empty.
        ValueError: ``timeout``, ``deadline``, ``max_bytes``, ``retries``, ``backoff`` or ``max_tokens``
            is out of range.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0,
                 temperature: float = 0.1, max_tokens: int = 512, retries: int = DEFAULT_RETRIES,
                 backoff: float = DEFAULT_BACKOFF_S, deadline: float = LLM_DEADLINE_S,
                 max_bytes: int = LLM_MAX_BYTES) -> None:
        parsed = urllib.parse.urlsplit(base_url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LLMError(f"LLM base url must look like http://host:port/v1, got {base_url!r}")
        if not model:
            raise LLMError(f"no model name for {base_url}: give --llm-model or set {ENV_MODEL}")
        if timeout <= 0 or deadline <= 0:
            raise ValueError(f"timeout and deadline must be positive, got {timeout!r} and {deadline!r}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        if retries < 0 or backoff < 0:
            raise ValueError(f"retries and backoff must not be negative, got {retries!r} and {backoff!r}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        root = base_url.rstrip("/")
        self.url = root if root.endswith(CHAT_PATH) else root + CHAT_PATH
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.retries = retries
        self.backoff = backoff
        proxies = {} if parsed.hostname in _LOOPBACK_HOSTS else None  # None: the environment's proxies
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies), _HTTPHandler, _HTTPSHandler)

    @classmethod
    def from_config(cls, config: Config, **options: Any) -> LLMClient:
        """A client for the endpoint in ``config`` (or the environment); ``options`` override the rest.

        Raises:
            LLMError: no endpoint or model is configured.
        """
        base_url, model, api_key = resolve_endpoint(config)
        if not base_url:
            raise LLMError(f"no LLM endpoint configured: give --llm-base-url or set {ENV_BASE_URL}")
        settings: dict[str, Any] = {"api_key": api_key, "timeout": config.generator.timeout,
                                    "deadline": config.generator.deadline, "max_bytes": config.generator.max_bytes,
                                    "temperature": config.generator.temperature,
                                    "max_tokens": config.generator.max_tokens}
        settings.update(options)
        return cls(base_url, model or "", **settings)

    # ---- requests -----------------------------------------------------------------------
    @overload
    def chat(self, messages: Sequence[Message], *, stream: Literal[False] = False,
             max_tokens: int | None = None, temperature: float | None = None) -> str: ...

    @overload
    def chat(self, messages: Sequence[Message], *, stream: Literal[True],
             max_tokens: int | None = None, temperature: float | None = None) -> Iterator[str]: ...

    def chat(self, messages: Sequence[Message], *, stream: bool = False, max_tokens: int | None = None,
             temperature: float | None = None) -> str | Iterator[str]:
        """Send ``messages``; return the reply, or an iterator over its pieces when ``stream``.

        With ``stream`` the request is made (and retried) before this returns; failures while
        reading the stream are raised from the iterator. The whole call, streamed reply included,
        ends by ``deadline`` seconds and reads at most ``max_bytes`` bytes of reply.

        Raises:
            LLMError: the endpoint failed, or the call passed its deadline or byte cap; the message says how.
        """
        body = {
            "model": self.model,
            "messages": list(messages),
            "temperature": self.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.max_tokens,
            "stream": stream,
        }
        call = _Call(self.deadline, self.max_bytes)
        try:
            response = self._open(json.dumps(body).encode("utf-8"), call)
        except BaseException:
            call.end()
            raise
        if stream:
            return self._deltas(response, call)  # ends the call when the stream ends
        try:
            with response:
                return _message_content(self._parse(self._read(response, call)), self.url)
        finally:
            call.end()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _open(self, data: bytes, call: _Call) -> http.client.HTTPResponse:
        """POST ``data``, retrying 429 and 5xx answers up to ``retries`` times while ``call``'s deadline allows."""
        attempt = 0
        token = _CALL.set(call)
        try:
            while True:
                if call.passed:
                    raise self._deadline_error()
                request = urllib.request.Request(self.url, data=data, headers=self._headers(), method="POST")
                try:
                    return self._opener.open(request, timeout=max(min(self.timeout, call.remaining()), MIN_WAIT_S))
                except urllib.error.HTTPError as exc:
                    error = LLMError(f"HTTP {exc.code} from {self.url}{_error_detail(exc)}")
                    wait = _retry_after(exc.headers.get("Retry-After"))
                    wait = min(self.backoff * 2**attempt if wait is None else wait, MAX_RETRY_WAIT_S)
                    if exc.code not in RETRY_STATUSES or attempt >= self.retries or wait >= call.remaining():
                        raise error from exc
                except urllib.error.URLError as exc:
                    raise self._connection_error(exc.reason, call) from exc
                except (TimeoutError, OSError, http.client.HTTPException) as exc:
                    raise self._connection_error(exc, call) from exc
                time.sleep(wait)
                attempt += 1
        finally:
            _CALL.reset(token)

    def _deadline_error(self) -> LLMError:
        return LLMError(f"no complete reply from {self.url} within the {self.deadline:g} s deadline; "
                        f"give the model longer with --llm-deadline")

    def _connection_error(self, reason: object, call: _Call) -> LLMError:
        if call.passed:
            return self._deadline_error()
        if isinstance(reason, TimeoutError):
            return LLMError(f"timed out after {self.timeout:g} s waiting for {self.url}")
        if isinstance(reason, ConnectionRefusedError):
            return LLMError(f"connection refused to {self.url}")
        return LLMError(f"could not reach {self.url}: {reason}")

    def _chunk(self, response: http.client.HTTPResponse, call: _Call) -> bytes:
        """The next piece of the reply (``b""`` at its end), counted against ``call``'s deadline and byte cap."""
        try:
            chunk = response.read1(READ_CHUNK)
        except (OSError, http.client.HTTPException) as exc:
            if call.passed:  # the deadline shut the connection down
                raise self._deadline_error() from exc
            raise
        if call.passed:
            raise self._deadline_error()
        call.received += len(chunk)
        if call.received > call.max_bytes:
            raise LLMError(f"the reply from {self.url} passed the {call.max_bytes:,}-byte cap; "
                           f"allow more with --llm-max-bytes")
        if not chunk and getattr(response, "length", None):  # the connection ended before Content-Length
            raise http.client.IncompleteRead(b"", response.length)
        return chunk

    def _read(self, response: http.client.HTTPResponse, call: _Call) -> bytes:
        try:
            return b"".join(iter(functools.partial(self._chunk, response, call), b""))
        except TimeoutError as exc:
            raise LLMError(f"timed out after {self.timeout:g} s reading the reply from {self.url}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise LLMError(f"reply from {self.url} was cut off: {exc}") from exc

    def _parse(self, raw: bytes | str) -> dict:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            preview = raw[:80].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:80]
            raise LLMError(f"malformed response from {self.url}: not JSON ({preview!r})") from exc
        if not isinstance(data, dict):
            raise LLMError(f"malformed response from {self.url}: expected a JSON object")
        if "error" in data:
            raise LLMError(f"error from {self.url}: {_short(data['error'])}")
        return data

    def _lines(self, response: http.client.HTTPResponse, call: _Call) -> Iterator[bytes]:
        """The lines of ``response``, read in pieces (so no line outgrows the byte cap)."""
        buffer = bytearray()
        while chunk := self._chunk(response, call):
            buffer += chunk
            end = buffer.rfind(b"\n")
            if end >= 0:
                yield from bytes(buffer[:end]).split(b"\n")
                del buffer[: end + 1]
        if buffer:
            yield bytes(buffer)

    def _deltas(self, response: http.client.HTTPResponse, call: _Call) -> Iterator[str]:
        """The content pieces of a server-sent-events reply, until ``data: [DONE]``; ends ``call``."""
        try:
            yield from self._events(response, call)
        finally:
            call.end()

    def _events(self, response: http.client.HTTPResponse, call: _Call) -> Iterator[str]:
        received = 0
        finished = False
        with response:
            if response.headers.get_content_type() == "application/json":  # the server did not stream
                yield _message_content(self._parse(self._read(response, call)), self.url)
                return
            try:
                for raw in self._lines(response, call):
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, "event:" and "id:" fields
                    payload = line[len("data:"):].strip()
                    if payload == "[DONE]":
                        return
                    choice = _first_choice(self._parse(payload), self.url, allow_empty=True)
                    if choice is None:
                        continue  # e.g. a final usage-only chunk
                    piece = (choice.get("delta") or {}).get("content")
                    if isinstance(piece, str) and piece:
                        received += len(piece)
                        yield piece
                    finished = finished or bool(choice.get("finish_reason"))
            except TimeoutError as exc:
                raise LLMError(f"stream from {self.url} stalled for {self.timeout:g} s "
                               f"after {received} characters") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise LLMError(f"stream from {self.url} was cut off after {received} characters: {exc}") from exc
        if not finished:
            raise LLMError(f"stream from {self.url} ended early, after {received} characters, without [DONE]")


def _first_choice(data: dict, url: str, *, allow_empty: bool = False) -> dict | None:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    if allow_empty and choices == []:
        return None
    raise LLMError(f"malformed response from {url}: no choices in {_short(data)}")


def _message_content(data: dict, url: str) -> str:
    message = _first_choice(data, url).get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise LLMError(f"malformed response from {url}: no message content in {_short(data)}")
    if not content.strip():
        raise LLMError(f"empty response from {url}")
    return content


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(ERROR_BODY_BYTES).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        body = ""
    return f": {_short(body)}" if body else ""


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= ERROR_BODY_CHARS else text[:ERROR_BODY_CHARS] + "…"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
