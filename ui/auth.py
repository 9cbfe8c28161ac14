"""Who may use a served app: the login (from a file or the environment, exact user name, slow
failures), the API key that programs send instead (``/v1``, ``/mcp``), and the only origin whose
pages get answers (the app's own).

Gradio strips the user name before checking it and sends answers with credentials to any
``localhost`` origin; :class:`OwnOriginOnly` sits in front of its routes to close both gaps.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request, cookie_parser

AUTH_ENV = "NEWSDESK_AUTH"
API_KEY_ENV = "NEWSDESK_API_KEY"
# Each wrong login costs this many seconds, and failures are answered one at a time, so
# guessing runs at most one password a second however many requests are sent in parallel.
FAILURE_DELAY_S = 1.0
MAX_LOGIN_BODY = 64 * 1024
# What the login page loads before anyone has logged in (found by opening it in Chromium): the
# page itself, Gradio's scripts and styles, the theme, the icon, and the form's POST; and
# startup-events, which Gradio's launch calls on itself without a login (it runs the app's
# start-up once and answers true or false). With a login, every other route (Gradio's schema,
# app id, heartbeat, cancel, reset, ...) refuses a request without a session.
LOGIN_PAGE_PATHS = frozenset({"/", "/login", "/login/", "/theme.css", "/favicon.ico", "/gradio_api/startup-events"})
LOGIN_PAGE_PREFIXES = ("/assets/", "/static/")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
ANY_HOST = "*"


def parse_auth(value: str | None, *, where: str = "--auth") -> tuple[str, str] | None:
    """``USER:PASS`` as a (user, password) pair; None stays None.

    Raises:
        ValueError: no colon, an empty user or password, or a user name with spaces around it
            (it could never be typed the same way twice).
    """
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError(f"{where} must be USER:PASS with both parts non-empty, got {_masked(value)}")
    if user != user.strip():
        raise ValueError(f"{where}: the user name {user!r} has spaces around it")
    return user, password


def _masked(value: str) -> str:
    user, sep, _ = value.partition(":")
    return repr(f"{user}:***" if sep else value)


def read_credentials(auth: str | None = None, auth_file: str | None = None,
                     env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """The login to require: from ``auth_file`` (first line), else the ``NEWSDESK_AUTH``
    variable, else ``auth`` (the ``--auth`` value, which every local user can read in ``ps``).

    Raises:
        ValueError: a malformed value, or an unreadable file.
    """
    env = os.environ if env is None else env
    if auth_file is not None:
        where = f"--auth-file {Path(auth_file)}"
        return parse_auth(_secret_line(Path(auth_file), where), where=where)
    if env.get(AUTH_ENV):
        return parse_auth(env[AUTH_ENV], where=AUTH_ENV)
    if auth is not None:
        print(f"Warning: --auth is visible to every local user (ps); prefer --auth-file or {AUTH_ENV}.",
              file=sys.stderr)
    return parse_auth(auth)


def _secret_line(path: Path, where: str) -> str:
    """The first line of the secret file ``path`` ("" when empty), warning when other users can
    read it.

    Raises:
        ValueError: the file cannot be read (``where`` names the option).
    """
    try:
        first = path.read_text(encoding="utf-8").splitlines()[:1]
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: cannot read it ({exc})") from exc
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"Warning: {path} can be read by other users; chmod 600 it.", file=sys.stderr)
    return first[0] if first else ""


def read_api_key(api_key_file: str | None = None, env: dict[str, str] | None = None) -> ApiKey | None:
    """The bearer key programs must send (``/v1``, ``/mcp``): the first line of ``api_key_file``,
    else the ``NEWSDESK_API_KEY`` variable; None when neither is given.

    Raises:
        ValueError: an unreadable file, or a key that is empty or has spaces in it.
    """
    env = os.environ if env is None else env
    if api_key_file is not None:
        where = f"--api-key-file {Path(api_key_file)}"
        value = _secret_line(Path(api_key_file), where).strip()
    elif env.get(API_KEY_ENV) is not None:
        where, value = API_KEY_ENV, env[API_KEY_ENV].strip()
    else:
        return None
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{where}: the API key must be one word with no spaces (got {len(value)} characters)")
    return ApiKey(value)


class ApiKey:
    """Checks an ``Authorization: Bearer KEY`` header in constant time; each wrong key waits
    ``delay`` seconds, one at a time (as :class:`Login` does for passwords)."""

    def __init__(self, key: str, *, delay: float = FAILURE_DELAY_S) -> None:
        self._key = key.encode()
        self.delay = delay
        self._failing = asyncio.Lock()

    async def check(self, authorization: str) -> bool:
        """Whether ``authorization`` (the header's value, "" when absent) holds the key. A request
        without the header is not a guess and is answered at once."""
        scheme, _, given = authorization.strip().partition(" ")
        if not authorization.strip():
            return False
        ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._key)
        if not ok:
            async with self._failing:
                await asyncio.sleep(self.delay)
        return ok


def detail_error(status: int, message: str) -> dict:  # noqa: ARG001 - one signature for every error shape
    """The error body the app's own routes send: ``{"detail": ...}``, as Gradio's do."""
    return {"detail": message}


@dataclass(frozen=True)
class ApiRoutes:
    """Routes under ``prefix`` that programs call. With a ``key``, a request there must carry it
    (401 otherwise), and one that does is served without a browser login; without a key the
    login rule of every other route applies. Refusals there have ``error``'s shape (``/v1``:
    OpenAI's error object)."""

    prefix: str
    key: ApiKey | None = None
    error: Callable[[int, str], dict] = detail_error

    def covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")


class Login:
    """Checks one user and password in constant time; each failure waits ``delay`` seconds,
    one failure at a time."""

    def __init__(self, user: str, password: str, *, delay: float = FAILURE_DELAY_S) -> None:
        self._user = user.encode()
        self._password = password.encode()
        self.delay = delay
        self._failing = asyncio.Lock()

    async def check(self, user: str, password: str) -> bool:
        """Gradio's ``auth`` callable (async, so the waiting never blocks the server)."""
        ok = hmac.compare_digest(user.encode(), self._user) & hmac.compare_digest(password.encode(), self._password)
        if not ok:
            await self.fail()
        return bool(ok)

    async def fail(self) -> None:
        async with self._failing:
            await asyncio.sleep(self.delay)


class AllowedHosts:
    """The names a request's ``Host`` may give: the address the server is bound to, loopback
    names when that is a loopback address (or every address), any IP address when bound to every
    address, and the names given with ``--allowed-host`` ("*": any).

    A page whose own name was made to resolve to this server (DNS rebinding) sends its own
    name as ``Host`` (and as ``Origin``, so the origin check alone cannot tell); refusing
    unknown names stops it before any route runs.
    """

    def __init__(self, bound: str, extra: Sequence[str] = ()) -> None:
        bound = _host_name(bound)
        self.any = ANY_HOST in extra
        self.wildcard = bound in WILDCARD_HOSTS
        self.names = {bound, *(_host_name(name) for name in extra)}
        if self.wildcard or _is_loopback_address(bound):
            self.names |= LOOPBACK_NAMES
        if self.wildcard:
            self.names.add(socket.gethostname().lower())

    def __contains__(self, host: str) -> bool:
        name = _host_name(host, with_port=True)
        if self.any or name in self.names:
            return True
        return self.wildcard and _is_ip(name)


def _host_name(host: str, *, with_port: bool = False) -> str:
    """``host`` without its port or IPv6 brackets, lower-cased ("" when it cannot be parsed)."""
    host = host.strip().lower()
    if not with_port:
        return host.strip("[]")
    try:
        return urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return ""


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback_address(name: str) -> bool:
    return name == "localhost" or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)


class OwnOriginOnly:
    """ASGI middleware, in front of every route: refuse (403) a request whose ``Host`` is not
    one of ``hosts`` or whose ``Origin`` is not the app's own address; under ``api``'s prefix
    with a key, refuse (401) a request without that key and serve one with it without a login;
    elsewhere, with a login, refuse (401) a request without a session to anything but the login
    page; and refuse a login whose user name has spaces around it (Gradio would strip them).

    A browser sends ``Origin`` with cross-origin requests (and same-origin POSTs); scripts
    and clients without one are not browsers acting for a user, so they pass. The app's own
    origin is the ``Host`` the request was sent to, which a page cannot forge.
    """

    def __init__(self, app, login: Login | None = None,  # noqa: ANN001 - any ASGI app
                 hosts: AllowedHosts | None = None, api: ApiRoutes | None = None) -> None:
        self.app = app
        self.login = login
        self.hosts = hosts
        self.api = api

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI types
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        api = self.api if self.api is not None and self.api.covers(scope["path"]) else None
        shape = api.error if api is not None else detail_error
        if self.hosts is not None and headers.get("host", "") not in self.hosts:
            await _refuse(scope, send, 403, "Requests for this Host are refused; to serve the app under "
                                            "another name, start it with --allowed-host NAME.", shape)
            return
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, headers.get("host", "")):
            await _refuse(scope, send, 403, "Requests from other origins are refused.", shape)
            return
        if api is not None and api.key is not None:
            if not await api.key.check(headers.get("authorization", "")):
                await _refuse(scope, send, 401, "Send the server's API key: Authorization: Bearer KEY.", shape,
                              [(b"www-authenticate", b"Bearer")])
                return
            await self.app(scope, receive, send)  # the key stands in for the browser login
            return
        if self.login is not None and not _login_page(scope["path"]) and not _has_session(scope, headers):
            await _refuse(scope, send, 401, "Log in first (open the app's page)" + (
                ", or start the server with an API key (--api-key-file) for programs." if api else "."), shape)
            return
        if self.login is not None and scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"].rstrip("/").endswith("/login"):
            body = await _body(receive)
            if body is None:
                await _refuse(scope, send, 413, "The login form is too large.")
                return
            users = await _user_names(scope, body)
            if users is None or any(u != u.strip() for u in users):
                await self.login.fail()
                await _refuse(scope, send, 400, "Incorrect credentials.")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _login_page(path: str) -> bool:
    return path in LOGIN_PAGE_PATHS or path.startswith(LOGIN_PAGE_PREFIXES)


def _has_session(scope, headers: dict[str, str]) -> bool:  # noqa: ANN001 - ASGI scope
    """Whether the request carries a login token the app issued (Gradio's ``/login`` sets it
    in a cookie named after the app). No app to ask: no session."""
    app = scope.get("app")
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
    if tokens is None or cookie_id is None:
        return False
    cookies = cookie_parser(headers.get("cookie", ""))
    return any(cookies.get(f"{name}-{cookie_id}") in tokens for name in ("access-token", "access-token-unsecure"))


def _same_origin(origin: str, host: str) -> bool:
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.lower()


async def _body(receive) -> bytes | None:  # noqa: ANN001 - ASGI receive
    """The request body, or None when it is over MAX_LOGIN_BODY (the rest is read and dropped)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_LOGIN_BODY:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks) if size <= MAX_LOGIN_BODY else None


async def _user_names(scope, body: bytes) -> list[str] | None:  # noqa: ANN001 - ASGI scope
    """The ``username`` fields of a login body, parsed as the login route parses it (form-urlencoded
    or multipart, by its content type), so that no encoding slips past the exact-name rule;
    None when the body cannot be parsed."""
    request = Request(scope, _replay(body, _no_more))
    try:
        names = (await request.form()).getlist("username")
        return names if all(isinstance(name, str) for name in names) else None  # a file is no name
    except Exception:  # noqa: BLE001 - any malformed body: the login is refused
        return None
    finally:
        await request.close()


async def _no_more() -> dict:
    return {"type": "http.disconnect"}


def _replay(body: bytes, original):  # noqa: ANN001, ANN202 - ASGI receive callables
    """A receive that hands the app the body already read, then the client's own messages."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _refuse(scope, send, status: int, detail: str,  # noqa: ANN001 - ASGI types
                  shape: Callable[[int, str], dict] = detail_error, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps(shape(status, detail)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
