"""Login and origin checks of a served app (a real server on a tiny index, plain HTTP)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from index.build import write_collection
from index.settings import IndexSettings
from index.store import IndexStore
from rag import Assistant
from rag.config import Config
from tests.conftest import HashEmbedder, free_port, make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
USER, PASSWORD = "ed", "s3cret pass"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ui.app import build_app, launch

    root = tmp_path_factory.mktemp("auth") / "idx"
    write_collection(root, make_articles(3), settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    config = Config(index=SETTINGS, rerank={"articles": 0})
    assistant = Assistant(IndexStore.load(root), config=config, embedder=HashEmbedder())
    demo = build_app(assistant, private_uploads=False)
    url = launch(demo, port=free_port(), auth=(USER, PASSWORD), prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/")
    demo.close()


def login(url: str, user: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/login", data={"username": user, "password": password}, headers=headers, timeout=60)


def test_the_right_login_works_and_a_padded_user_name_does_not(server):
    assert login(server, USER, PASSWORD).status_code == 200
    for user in (f"{USER} ", f" {USER}", f"{USER}\t"):
        assert login(server, user, PASSWORD).status_code >= 400, repr(user)


def multipart_login(url: str, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/login", files={"username": (None, user), "password": (None, password)}, timeout=60)


def test_the_same_exact_user_name_rule_holds_for_a_multipart_login(server):
    """Gradio strips the name, and the padded-name check read only form-urlencoded bodies."""
    assert multipart_login(server, USER, PASSWORD).status_code == 200
    for user in (f" {USER}", f"{USER} ", f"{USER}\t"):
        assert multipart_login(server, user, PASSWORD).status_code >= 400, repr(user)
    json_login = httpx.post(f"{server}/login", json={"username": f" {USER}", "password": PASSWORD}, timeout=60)
    assert json_login.status_code >= 400  # the route takes forms only


def test_repeated_wrong_passwords_are_slowed_down_even_in_parallel(server):
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda i: login(server, USER, f"guess{i}").status_code, range(4)))
    took = time.perf_counter() - started
    assert all(code >= 400 for code in codes)
    assert took >= 3.5, f"4 wrong passwords were answered in {took:.2f} s"  # one second each, one at a time
    started = time.perf_counter()
    assert login(server, USER, PASSWORD).status_code == 200
    assert time.perf_counter() - started < 2.5  # the right password is not made to wait


def test_only_the_pages_own_origin_gets_answers(server):
    own = server.removeprefix("http://")
    cookies = login(server, USER, PASSWORD).cookies
    for origin in ("http://localhost:1", "http://127.0.0.1:1", "null", "http://evil.example"):
        response = httpx.get(f"{server}/config", headers={"Origin": origin}, cookies=cookies, timeout=60)
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
        assert login(server, USER, PASSWORD, Origin=origin).status_code == 403, origin
        preflight = httpx.options(f"{server}/gradio_api/queue/join", timeout=60, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers, origin
    same = httpx.get(f"{server}/config", headers={"Origin": f"http://{own}"}, cookies=cookies, timeout=60)
    assert same.status_code == 200
    assert httpx.get(f"{server}/config", cookies=cookies, timeout=60).status_code == 200  # no Origin: not a browser


# Gradio's own routes that answered without a login (the page's runtime, its API schema,
# session controls), and two that streamed forever to anyone (heartbeat).
CLOSED_GET = ["/openapi.json", "/docs", "/redoc", "/gradio_api/openapi.json", "/gradio_api/app_id",
              "/gradio_api/heartbeat/abc123", "/gradio_api/token", "/gradio_api/user",
              "/manifest.json", "/robots.txt", "/pwa_icon", "/gradio_api/info", "/config", "/gradio_api/queue/status",
              "/monitoring", "/gradio_api/upload_progress?upload_id=x", "/logout", "/gradio_api/runs"]
CLOSED_POST = [("/gradio_api/cancel", {"session_hash": "abc", "fn_index": 0, "event_id": "e"}),
               ("/gradio_api/reset", {"event_id": "e"}), ("/gradio_api/queue/join", {}),
               ("/gradio_api/run/ask", {"data": ["q"]}), ("/gradio_api/stream/e", {})]


def status(method: str, url: str, **kwargs) -> int:
    """The status line only: some of these routes stream without end."""
    with httpx.stream(method, url, timeout=30, **kwargs) as response:
        return response.status_code


def test_without_a_login_only_the_login_page_answers(server):
    for path in CLOSED_GET:
        assert status("GET", f"{server}{path}") == 401, path
    for path, body in CLOSED_POST:
        assert status("POST", f"{server}{path}", json=body) == 401, path
    page = httpx.get(f"{server}/", timeout=60)
    assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
    assets = [a for a in page.text.split('"') if a.startswith(("./assets/", "/assets/")) and a.endswith(".js")]
    assert assets and status("GET", f"{server}/{assets[0].lstrip('./')}") == 200
    assert status("GET", f"{server}/theme.css") == 200 and status("GET", f"{server}/favicon.ico") == 200
    cookies = login(server, USER, PASSWORD).cookies
    for path in ("/gradio_api/app_id", "/config", "/gradio_api/info"):
        assert httpx.get(f"{server}{path}", cookies=cookies, timeout=60).status_code == 200, path


def test_a_python_client_that_logs_in_still_gets_answers(server):
    from gradio_client import Client

    answer = Client(server, auth=(USER, PASSWORD), verbose=False).predict("Which bridge opened?", api_name="/ask")
    assert answer["passages"]


def test_allowed_hosts_by_bound_address():
    from ui.auth import AllowedHosts

    loopback = AllowedHosts("127.0.0.1", ["news.lan"])
    assert all(h in loopback for h in ("127.0.0.1:7860", "localhost", "LOCALHOST:1", "[::1]:7860", "news.lan:80"))
    assert all(h not in loopback for h in ("evil.example", "10.0.0.7:7860", "news.lan.evil.example", "", "[::1"))
    everywhere = AllowedHosts("0.0.0.0")
    assert "10.0.0.7:7860" in everywhere and "localhost:7860" in everywhere and "evil.example" not in everywhere
    one = AllowedHosts("192.168.1.5")
    assert "192.168.1.5:7860" in one and "localhost" not in one and "10.0.0.7" not in one
    assert "anything.example" in AllowedHosts("127.0.0.1", ["*"])


def test_credentials_come_from_a_file_or_the_environment_before_the_command_line(tmp_path, capsys):
    from ui.auth import AUTH_ENV, read_credentials

    secret = tmp_path / "login"
    secret.write_text("ann:from file\n")
    secret.chmod(0o600)
    assert read_credentials("cli:pw", str(secret), env={AUTH_ENV: "env:pw"}) == ("ann", "from file")
    assert read_credentials("cli:pw", None, env={AUTH_ENV: "env:pw"}) == ("env", "pw")
    assert capsys.readouterr().err == ""
    assert read_credentials("cli:pw", None, env={}) == ("cli", "pw")
    assert "--auth is visible to every local user" in capsys.readouterr().err
    assert read_credentials(None, None, env={}) is None
    secret.chmod(0o644)
    read_credentials(None, str(secret), env={})
    assert "can be read by other users" in capsys.readouterr().err
    for bad in ("ann :pw", " ann:pw"):
        with pytest.raises(ValueError, match="spaces around it"):
            read_credentials(None, None, env={AUTH_ENV: bad})
    with pytest.raises(ValueError, match="cannot read it"):
        read_credentials(None, str(tmp_path / "missing"), env={})
    with pytest.raises(ValueError, match=r"USER:PASS.*'ann:\*\*\*'"):  # the password is never echoed
        read_credentials(None, None, env={AUTH_ENV: "ann:"})


def test_the_api_key_comes_from_a_file_before_the_environment(tmp_path, capsys):
    from ui.auth import API_KEY_ENV, read_api_key

    secret = tmp_path / "key"
    secret.write_text("  file-key-123  \nignored\n")
    secret.chmod(0o600)
    key = read_api_key(str(secret), env={API_KEY_ENV: "env-key"})
    assert asyncio.run(key.check("Bearer file-key-123")) and capsys.readouterr().err == ""
    assert asyncio.run(read_api_key(None, env={API_KEY_ENV: "env-key"}).check("bearer env-key"))
    assert read_api_key(None, env={}) is None
    for bad in ("", "two words"):
        with pytest.raises(ValueError, match="one word"):
            read_api_key(None, env={API_KEY_ENV: bad})
    with pytest.raises(ValueError, match="cannot read it"):
        read_api_key(str(tmp_path / "missing"), env={})
    secret.chmod(0o644)
    read_api_key(str(secret), env={})
    assert "can be read by other users" in capsys.readouterr().err


def test_a_wrong_api_key_waits_and_a_missing_one_does_not():
    from ui.auth import ApiKey

    key = ApiKey("k-1", delay=0.5)

    async def timed(header: str) -> tuple[bool, float]:
        started = time.perf_counter()
        return await key.check(header), time.perf_counter() - started

    assert asyncio.run(timed("Bearer k-1"))[0]
    ok, took = asyncio.run(timed("Bearer k-2"))
    assert not ok and took >= 0.5
    for header in ("", "k-1", "Basic k-1", "Bearer"):
        ok, took = asyncio.run(timed(header))
        assert not ok, header
    assert asyncio.run(timed(""))[1] < 0.5  # no header: not a guess, answered at once
