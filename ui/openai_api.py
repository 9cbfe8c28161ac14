"""``/v1`` on ``newsdesk serve``: an OpenAI-compatible chat endpoint whose answers keep their
citations, for Open WebUI, LibreChat and any OpenAI client.

``GET /v1/models`` lists ``newsdesk`` (the offline answer) and, when a generator is configured,
``newsdesk+llm``. ``POST /v1/chat/completions`` answers the last user message, with the earlier
user/assistant turns as the conversation; the text keeps its ``[n]`` markers and each cited
source goes out as a ``url_citation`` annotation (in number order, so ``[n]`` is the n-th),
plus a ``citations`` list of URLs (Perplexity's field) and the full citations under ``newsdesk``.
Refusals are OpenAI error objects; the key and login checks sit in :class:`ui.auth.OwnOriginOnly`.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from index.errors import NewsdeskError
from rag import Answer, Assistant
from ui.auth import ApiKey

PREFIX = "/v1"
MODEL = "newsdesk"  # the offline (extractive) answer
LLM_MODEL = "newsdesk+llm"  # the configured generator's checked answer
# A conversation of a few dozen turns is well under this; more is not a chat request.
MAX_BODY_BYTES = 1024 * 1024
# Follow-ups are rewritten from the last turns only, as in the browser chat.
HISTORY_TURNS = 4
# Answers computed at once (CPU-bound, as the chat's queue) and requests that may wait for
# one; more get 429.
CONCURRENCY = 4
WAITING = 64
# While an answer is computed (an LLM may take a minute), an SSE comment every this many
# seconds keeps proxies from closing the stream.
KEEPALIVE_S = 10.0
FILTERS = ("as_of", "date_from", "date_to")
# "[3]", "[1, 2]", "[2-4]": the answer's citation markers.
_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]")
_CLAIM_LEAD = " \t\r\n.,;:"

_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
          404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error"}
_CODES = {401: "invalid_api_key", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          413: "request_too_large", 422: "invalid_value", 429: "rate_limit_exceeded"}


class ApiError(Exception):
    """A request refused with ``status`` and an OpenAI error object."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        return openai_error(self.status, self.message, param=self.param, code=self.code)


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": _TYPES.get(status, "server_error"), "param": param,
                      "code": code or _CODES.get(status)}}


@dataclass(frozen=True)
class ChatRequest:
    """What a chat completion asks: the question, the conversation before it, and the filters."""

    model: str
    question: str
    history: list[tuple[str, str]]
    stream: bool = False
    filters: dict[str, Any] = field(default_factory=dict)


def parse_request(body: bytes, models: tuple[str, ...]) -> ChatRequest:
    """The :class:`ChatRequest` in a request body.

    Raises:
        ApiError: 400 for a body that is not a chat request (not JSON, no messages, wrong
            types, the last message not the user's), 404 for a model not in ``models``.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required: " + " or ".join(repr(m) for m in models), param="model")
    if model not in models:
        raise ApiError(404, f"The model {model!r} does not exist; GET {PREFIX}/models lists "
                            + ", ".join(repr(m) for m in models), param="model", code="model_not_found")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects.", param="messages")
    turns = [_message(m, i) for i, m in enumerate(messages)]
    if turns[-1][0] != "user" or not turns[-1][1].strip():
        raise ApiError(400, "The last message must be the user's question (role 'user', some text).",
                       param="messages")
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "stream must be true or false.", param="stream")
    if data.get("n") not in (None, 1):
        raise ApiError(400, "Only n=1 is supported.", param="n")
    return ChatRequest(model=model, question=turns[-1][1].strip(), history=_history(turns[:-1]),
                       stream=bool(stream), filters=_filters(data))


def _message(message: object, i: int) -> tuple[str, str]:
    """(role, text) of one message; text parts are joined, anything else is refused."""
    param = f"messages[{i}]"
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise ApiError(400, f"{param} must be an object with a role and content.", param=param)
    content = message.get("content")
    if content is None or isinstance(content, str):
        return message["role"], content or ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        if any(p.get("type") != "text" or not isinstance(p.get("text"), str) for p in content):
            raise ApiError(400, f"{param}.content: only text parts are supported.", param=f"{param}.content")
        return message["role"], "\n".join(p["text"] for p in content)
    raise ApiError(400, f"{param}.content must be a string or a list of text parts.", param=f"{param}.content")


def _history(messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Earlier (question, answer) turns: each user message with the assistant reply after it.
    System and tool messages are not questions and are left out."""
    turns, question = [], None
    for role, text in messages:
        if role == "user":
            question = text.strip()
        elif role == "assistant" and question:
            turns.append((question, text))
            question = None
    return turns[-HISTORY_TURNS:]


def _filters(data: dict) -> dict[str, Any]:
    """The optional extra fields: dates (checked by the assistant), sources and k."""
    filters: dict[str, Any] = {}
    for name in FILTERS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{name} must be a date string YYYY-MM-DD.", param=name)
        if value:
            filters[name] = value
    sources = data.get("sources")
    if isinstance(sources, str):
        sources = [sources]
    if sources is not None and not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise ApiError(400, "sources must be a source name or a list of them.", param="sources")
    if sources:
        filters["sources"] = sources
    k = data.get("k")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int)):
        raise ApiError(400, "k must be a whole number (passages to retrieve).", param="k")
    if k is not None:
        filters["k"] = k
    return filters


def _numbers(marker: str) -> list[int]:
    """The citation numbers one marker names: "[1, 3]" -> [1, 3], "[2-4]" -> [2, 3, 4]."""
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", marker.strip("[] ")):
        lo, _, hi = re.sub(r"\s*[–-]\s*", "-", part).partition("-")
        first, last = int(lo), int(hi or lo)
        numbers.extend(range(first, min(last, first + 100) + 1) if last >= first else [first])
    return numbers


def cited_spans(text: str) -> dict[int, tuple[int, int]]:
    """Citation number -> (start, end) in ``text`` of the first claim its marker closes: from
    where the claim starts (after the previous marker) to the end of the marker."""
    spans: dict[int, tuple[int, int]] = {}
    claim, previous = 0, 0
    for m in _MARKER.finditer(text):
        if previous and text[previous:m.start()].strip():  # new words since the last marker: a new claim
            claim = previous
            while claim < m.start() and text[claim] in _CLAIM_LEAD:
                claim += 1
        for n in _numbers(m.group()):
            spans.setdefault(n, (claim, m.end()))
        previous = m.end()
    return spans


def annotations(answer: Answer) -> list[dict]:
    """One ``url_citation`` per citation, in number order (Open WebUI maps ``[n]`` to the n-th)."""
    spans = cited_spans(answer.text)
    out = []
    for c in sorted(answer.citations, key=lambda c: c.number):
        start, end = spans.get(c.number, (0, len(answer.text)))
        out.append({"type": "url_citation", "url_citation": {
            "url": c.url, "title": c.title or c.source or c.article_id, "start_index": start, "end_index": end}})
    return out


def extension(answer: Answer) -> dict:
    """What an OpenAI reply has no field for: the whole answer but its passages."""
    details = answer.to_dict()
    details.pop("passages", None)
    return details


def pieces(text: str) -> list[str]:
    """``text`` cut after each citation marker: the claims a stream sends one by one."""
    cuts = [m.end() for m in _MARKER.finditer(text)]
    bounds = [0, *[c for c in cuts if c < len(text)], len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def tail(answer: Answer) -> str:
    """The warnings, after the answer (the annotations' offsets are in the text before them)."""
    return "".join(f"\n\nWarning: {w}" for w in answer.warnings)


class Limiter:
    """Admits at most ``concurrency + waiting`` requests at a time; the next gets 429."""

    def __init__(self, concurrency: int, waiting: int) -> None:
        self.capacity = concurrency + waiting
        self._held = 0
        self._lock = threading.Lock()

    def admit(self) -> None:
        with self._lock:
            if self._held >= self.capacity:
                raise ApiError(429, f"{self._held} requests are being answered or waiting; try again shortly.")
            self._held += 1

    def leave(self) -> None:
        with self._lock:
            self._held -= 1


class OpenAIApi:
    """The ``/v1`` routes over one assistant (mount :meth:`app` at :data:`PREFIX`).

    Args:
        assistant: the collection served.
        llm_model: the configured generator's model name (offers ``newsdesk+llm``); None: offline only.
        key: the bearer key requests must carry (checked by :class:`ui.auth.OwnOriginOnly`).
        concurrency: answers computed at once; up to ``waiting`` more requests wait, the rest get 429.
    """

    def __init__(self, assistant: Assistant, *, llm_model: str | None = None, key: ApiKey | None = None,
                 concurrency: int = CONCURRENCY, waiting: int = WAITING) -> None:
        self.assistant = assistant
        self.llm_model = llm_model
        self.key = key
        self.created = int(time.time())
        self.limiter = Limiter(concurrency, waiting)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="newsdesk-v1")

    @property
    def models(self) -> tuple[str, ...]:
        return (MODEL, LLM_MODEL) if self.llm_model else (MODEL,)

    def app(self) -> Starlette:
        """The routes, with every refusal (unknown path or method included) as an OpenAI error."""
        async def refused(request: Request, exc: Exception) -> JSONResponse:
            if isinstance(exc, ApiError):
                return JSONResponse(exc.body(), status_code=exc.status)
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            message = {404: f"Unknown request URL: {request.method} {request.url.path}",
                       405: f"{request.method} is not allowed for {request.url.path}"}.get(status, "Server error.")
            return JSONResponse(openai_error(status, message), status_code=status)

        return Starlette(routes=[
            Route("/models", self.list_models, methods=["GET"]),
            Route("/models/{model:path}", self.get_model, methods=["GET"]),
            Route("/chat/completions", self.chat_completions, methods=["POST"]),
        ], exception_handlers={HTTPException: refused, ApiError: refused})

    def _model(self, name: str) -> dict:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "newsdesk"}

    async def list_models(self, request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [self._model(m) for m in self.models]})

    async def get_model(self, request: Request) -> JSONResponse:
        name = request.path_params["model"]
        if name not in self.models:
            raise ApiError(404, f"The model {name!r} does not exist.", param="model", code="model_not_found")
        return JSONResponse(self._model(name))

    async def chat_completions(self, request: Request) -> Response:
        req = parse_request(await _body(request), self.models)
        self.limiter.admit()
        try:
            first, last = self._start(req)
        except BaseException:
            self.limiter.leave()
            raise
        try:
            if not req.stream:
                return JSONResponse(self._completion(req, await last))
            await first  # a question the assistant refuses is refused here, before the stream starts
        except (ValueError, NewsdeskError) as exc:
            raise ApiError(422, str(exc)) from None
        except Exception:  # a fault of ours: the log gets the traceback, the caller one line
            traceback.print_exc()
            raise ApiError(500, "The server failed to answer; its log says why.") from None
        return StreamingResponse(self._events(req, last), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def _start(self, req: ChatRequest) -> tuple[asyncio.Future, asyncio.Future]:
        """Compute the answer in the pool: futures for its first growing version (or the error
        that refused the question) and for the complete answer. The slot the limiter gave is
        freed when the computation ends, whether or not the caller is still there."""
        loop = asyncio.get_running_loop()
        first, last = loop.create_future(), loop.create_future()
        for future in (first, last):  # an error nobody awaits is not logged as lost
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
        backend = "llm" if req.model == LLM_MODEL else "extractive"

        def settle(future: asyncio.Future, value: object = None, error: BaseException | None = None) -> None:
            if not future.done():
                future.set_exception(error) if error is not None else future.set_result(value)

        def produce() -> Iterator[Answer]:
            return self.assistant.stream(req.question, history=req.history, backend=backend, **req.filters)

        def job() -> None:
            try:
                answer = None
                for answer in produce():
                    if not started.is_set():
                        started.set()
                        loop.call_soon_threadsafe(settle, first, answer)
                if answer is None:
                    raise RuntimeError("the assistant gave no answer")
                loop.call_soon_threadsafe(settle, last, answer)
            except BaseException as exc:  # noqa: BLE001 - handed to the request, which answers for it
                loop.call_soon_threadsafe(settle, first, None, exc)
                loop.call_soon_threadsafe(settle, last, None, exc)
            finally:
                self.limiter.leave()

        started = threading.Event()
        self._pool.submit(job)
        return first, last

    def _completion(self, req: ChatRequest, answer: Answer) -> dict:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": req.model, "system_fingerprint": None,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
                "role": "assistant", "content": answer.text + tail(answer), "refusal": None,
                "annotations": annotations(answer)}}],
            "citations": [c.url for c in sorted(answer.citations, key=lambda c: c.number)],
            "newsdesk": extension(answer),
        }

    async def _events(self, req: ChatRequest, last: asyncio.Future) -> AsyncIterator[bytes]:
        """The SSE stream: the role at once, keep-alives while the answer is checked, then the
        text claim by claim (the annotations with the last claim), the warnings, and a final
        chunk with ``finish_reason``, ``citations`` and ``newsdesk``. An LLM's draft is not sent:
        the check may drop or renumber its sentences, and a stream cannot take text back."""
        chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def event(delta: dict, finish: str | None = None, **extra: object) -> bytes:
            chunk = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": req.model,
                     "system_fingerprint": None,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
            return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"

        yield event({"role": "assistant", "content": ""})
        while True:
            done, _ = await asyncio.wait({last}, timeout=KEEPALIVE_S)
            if done:
                break
            yield b": keep-alive\n\n"
        try:
            answer = last.result()
        except (ValueError, NewsdeskError) as exc:
            yield b"data: " + json.dumps(openai_error(422, str(exc))).encode() + b"\n\n"
            return
        except Exception:  # noqa: BLE001 - after the 200 an error can only be an event
            traceback.print_exc()
            yield b"data: " + json.dumps(openai_error(500, "The server failed to answer; its log says why.")).encode() \
                + b"\n\n"
            return
        claims = pieces(answer.text)
        for i, claim in enumerate(claims):
            yield event({"content": claim, **({"annotations": annotations(answer)} if i == len(claims) - 1 else {})})
        if tail(answer):
            yield event({"content": tail(answer)})
        yield event({}, "stop", citations=[c.url for c in sorted(answer.citations, key=lambda c: c.number)],
                    newsdesk=extension(answer))
        yield b"data: [DONE]\n\n"


async def _body(request: Request) -> bytes:
    """The request body, refused with 413 past :data:`MAX_BODY_BYTES` (without reading it all)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"The request is {int(declared):,} bytes; the limit is {MAX_BODY_BYTES:,}.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"The request is over {MAX_BODY_BYTES:,} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
