"""``ui.app`` serving: a port in use fails at once in one line, and a bad ``/ask`` call is
refused with a clear message and one log line. Over a small hash-embedded index (no model)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import write_collection
from index.settings import IndexSettings
from index.store import IndexStore
from rag import Assistant
from rag.config import Config
from tests.conftest import HashEmbedder, free_port, make_articles

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)


def test_a_port_in_use_is_one_error_line_naming_port_before_anything_loads(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.perf_counter()
        # The index does not exist: had it been opened first, that error would come instead.
        done = subprocess.run([sys.executable, "-m", "newsdesk.cli", "serve", "--port", str(port),
                               "--index", str(tmp_path / "no-index")], capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
        took = time.perf_counter() - started
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]
    assert took < 30, f"the port check came after loading ({took:.1f} s)"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    from ui.app import build_app, launch

    root = tmp_path_factory.mktemp("app") / "idx"
    write_collection(root, make_articles(5), settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    config = Config(index=SETTINGS, rerank={"articles": 0})
    assistant = Assistant(IndexStore.load(root, settings=SETTINGS), config=config,
                          embedder=HashEmbedder())
    demo = build_app(assistant, private_uploads=False)
    yield launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True, allowed_hosts=("newsdesk.example",))
    demo.close()


def test_a_foreign_host_name_is_refused_before_any_route_runs(server_url: str) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends
    Host and Origin that agree with each other, so only the Host check can refuse it."""
    import httpx

    base, port = server_url.rstrip("/"), server_url.rstrip("/").rsplit(":", 1)[1]
    for host in ("evil.example", "newsdesk.example.evil.example", "127.0.0.1.evil.example"):
        headers = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
        assert httpx.get(f"{base}/config", headers=headers, timeout=60).status_code == 403, host
        assert httpx.post(f"{base}/gradio_api/run/ask", json={"data": ["q"]}, headers=headers,
                          timeout=60).status_code == 403, host
        upload = httpx.post(f"{base}/gradio_api/upload", files={"files": ("a.jsonl", b"{}")}, headers=headers,
                            timeout=60)
        assert upload.status_code == 403 and "Host" in upload.json()["detail"], host
    for host in ("127.0.0.1", "localhost", "[::1]", "newsdesk.example", "NewsDesk.Example"):
        headers = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
        assert httpx.get(f"{base}/config", headers=headers, timeout=60).status_code == 200, host


def test_serve_session_limits_have_named_defaults_and_must_be_positive() -> None:
    from newsdesk.cli import build_parser
    from ui.app import session_limits
    from ui.session import MAX_SESSIONS, SESSION_IDLE_S, SESSION_UPLOAD_MB

    assert session_limits(build_parser().parse_args(["serve"])) == {
        "idle_s": SESSION_IDLE_S, "max_sessions": MAX_SESSIONS, "upload_quota_bytes": SESSION_UPLOAD_MB * 2**20}
    given = build_parser().parse_args(["serve", "--session-idle-minutes", "5", "--max-sessions", "3",
                                       "--session-upload-mb", "1.5"])
    assert session_limits(given) == {"idle_s": 300, "max_sessions": 3, "upload_quota_bytes": int(1.5 * 2**20)}
    with pytest.raises(ValueError, match="--max-sessions"):
        session_limits(build_parser().parse_args(["serve", "--max-sessions", "0"]))


def test_serve_takes_allowed_host_names() -> None:
    from newsdesk.cli import build_parser

    args = build_parser().parse_args(["serve", "--allowed-host", "news.lan", "--allowed-host", "10.0.0.7"])
    assert args.allowed_host == ["news.lan", "10.0.0.7"]
    assert build_parser().parse_args(["serve"]).allowed_host == []


@pytest.mark.parametrize(("options", "message"), [
    ({"k": 0}, "k must be between 1 and 100, got 0"),
    ({"k": 101}, "k must be between 1 and 100, got 101"),
    ({"date_from": "2025-13-45"}, "date_from: '2025-13-45' is not a date"),
])
def test_an_invalid_ask_call_is_refused_clearly_with_one_log_line(server_url: str, capfd, options: dict,
                                                                   message: str) -> None:
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    capfd.readouterr()
    with pytest.raises(Exception, match=message):
        client.predict("Which bridge opened?", api_name="/ask", **options)
    time.sleep(0.2)  # the server's log line is written from its own thread
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Refused an API call: ") and message in lines[0], err


def test_a_valid_ask_call_still_answers(server_url: str) -> None:
    from gradio_client import Client

    answer = Client(server_url, verbose=False).predict("harbour bridge opens", k=2, api_name="/ask")
    assert len(answer["passages"]) <= 2


# Calls a script could send by hand: too few or too many values, wrong types, a file path
# that was never uploaded. Gradio answered most with HTTP 500, object reprs and a traceback.
MALFORMED = [
    ("ask", ["Who won?"]),
    ("ask", [None]),
    ("ask", list(range(10))),
    ("ask", [1, None, None, None, None, None, "auto", None]),
    ("ask", ["Who won?", "not pairs", None, None, 5, None, "auto", None]),
    ("ask", ["Who won?", None, 20250101, None, None, None, "auto", None]),
    ("timeline", ["the bridge"]),
    ("timeline", [["a list"], None, None, None, None, None]),
    ("chat", ["Who won?"]),
    ("chat", [1, 2, 3, 4, 5, 6, 7]),
    ("upload", ["q", "not a list"]),
    ("upload", [[{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}], None]),
]


@pytest.mark.parametrize(("api", "data"), MALFORMED)
def test_a_malformed_api_call_gets_a_short_clean_refusal_and_one_log_line(server_url: str, capfd, api: str,
                                                                          data: list) -> None:
    import httpx

    capfd.readouterr()
    response = httpx.post(f"{server_url.rstrip('/')}/gradio_api/run/{api}", json={"data": data}, timeout=60)
    time.sleep(0.2)  # the server's log line is written from its own thread
    err = capfd.readouterr().err
    assert 400 <= response.status_code < 500 or response.json().get("error"), response.text
    message = str(response.json().get("error") or response.json().get("detail"))
    assert "object at 0x" not in response.text and "<gradio." not in response.text, response.text
    assert "\n" not in message and len(message) < 300, message
    assert "Traceback" not in err, err
    assert len([line for line in err.splitlines() if line.strip()]) <= 1, err


@pytest.mark.parametrize(("path", "body"), [
    ("/gradio_api/run/nope", {"data": ["Who won?"]}),
    ("/gradio_api/call/nope", {"data": ["Who won?"]}),
    ("/gradio_api/queue/join", {"data": ["Who won?"], "fn_index": 999, "session_hash": "abc"}),
])
def test_a_call_to_an_endpoint_that_does_not_exist_is_a_clean_4xx(server_url: str, capfd, path: str,
                                                                   body: dict) -> None:
    import httpx

    capfd.readouterr()
    response = httpx.post(f"{server_url.rstrip('/')}{path}", json=body, timeout=60)
    time.sleep(0.2)
    err = capfd.readouterr().err
    assert 400 <= response.status_code < 500, response.text
    assert "/gradio_api/info" in response.json()["detail"]
    assert "Traceback" not in err and len([line for line in err.splitlines() if line.strip()]) <= 1, err


def test_a_malformed_queued_call_ends_in_a_short_error_event(server_url: str, capfd) -> None:
    """The same refusal through the queue (``/call``, what gradio_client and the page use)."""
    import httpx

    base = server_url.rstrip("/")
    capfd.readouterr()
    event = httpx.post(f"{base}/gradio_api/call/ask", json={"data": ["Who won?"]}, timeout=60).json()["event_id"]
    stream = httpx.get(f"{base}/gradio_api/call/ask/{event}", timeout=60).text
    time.sleep(0.2)
    err = capfd.readouterr().err
    assert "event: error" in stream and "/ask takes 8 values, got 1" in stream, stream
    assert "object at 0x" not in stream and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
