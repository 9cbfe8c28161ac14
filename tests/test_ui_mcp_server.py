"""``newsdesk mcp`` driven by the ``mcp`` SDK's own client over both transports: Streamable HTTP
(one server in this process for the module, with an API key) and stdio (the real command)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import free_port
from ui.auth import ApiKey
from ui.mcp_server import PATH, build_server, http_app

ROOT = Path(__file__).resolve().parents[1]
KEY = "nd-mcp-key-0123456789"
TOOLS = {"search", "fetch", "ask", "timeline", "stats"}
AZERNEWS = "https://www.azernews.az/nation/2025/07/23/hasanov-meets-haluk-gorgun-at-idef-2025.html"



@pytest.fixture(scope="module")
def http_url(sample_assistant):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(http_app(build_server(sample_assistant), key=ApiKey(KEY)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}{PATH}"
    server.should_exit = True
    thread.join(timeout=30)


def over_http(url: str, key: str = KEY):  # noqa: ANN201 - an MCP client transport
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30, read=300))
    return streamable_http_client(url, http_client=client)


def run(transport, calls):  # noqa: ANN001, ANN201 - a transport, a coroutine function of the client
    async def session():
        async with Client(transport) as client:
            return await calls(client)

    return asyncio.run(session())


async def search_then_fetch(client: Client) -> dict:
    tools = (await client.list_tools()).tools
    found = await client.call_tool("search", {"query": "Hasanov IDEF"})
    assert not found.is_error, found.content
    results = found.structured_content["results"]
    fetched = await client.call_tool("fetch", {"id": results[0]["id"]})
    assert not fetched.is_error, fetched.content
    return {"tools": tools, "results": results, "document": fetched.structured_content,
            "text": fetched.content[0].text}


def check_search_then_fetch(got: dict) -> None:
    assert {t.name for t in got["tools"]} == TOOLS
    assert all(t.annotations.read_only_hint and not t.annotations.destructive_hint for t in got["tools"])
    first = got["results"][0]
    assert set(first) == {"id", "title", "url"} and first["url"] == AZERNEWS
    assert len({r["id"] for r in got["results"]}) == len(got["results"])  # one entry per article
    document = got["document"]
    assert set(document) == {"id", "title", "text", "url", "metadata"} and document["id"] == first["id"]
    assert "Haluk Görgün" in document["text"] and document["url"] == AZERNEWS
    assert document["metadata"]["date"] == "2025-07-23" and document["metadata"]["source"] == "azernews.az"
    assert document["metadata"]["copies"] == []
    assert '"Haluk Görgün' in got["text"] or "Haluk Görgün" in got["text"]  # connectors read the JSON text


@pytest.mark.slow
def test_over_http_search_then_fetch_returns_the_article(http_url):
    check_search_then_fetch(run(over_http(http_url), search_then_fetch))


@pytest.mark.slow
def test_over_stdio_search_then_fetch_returns_the_article(sample_assistant):
    """The real command, as Claude Desktop starts it (the sample index is already built in the
    session's cache, which the child inherits through NEWSDESK_CACHE_DIR)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "newsdesk.cli", "mcp"], cwd=str(ROOT),
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    check_search_then_fetch(run(params, search_then_fetch))


@pytest.mark.slow
def test_ask_timeline_and_stats(http_url):
    async def calls(client: Client) -> list:
        return [await client.call_tool("ask", {"question": "Who did Hasanov meet at IDEF 2025?"}),
                await client.call_tool("ask", {"question": "What did they discuss?", "history": [
                    ["Who did Hasanov meet at IDEF 2025?", "Hasanov met Haluk Görgün at IDEF 2025. [1]"]]}),
                await client.call_tool("timeline", {"query": "Hasanov IDEF 2025"}),
                await client.call_tool("stats", {})]

    answer, follow_up, story, stats = run(over_http(http_url), calls)
    assert not any(r.is_error for r in (answer, follow_up, story, stats))
    assert "[1]" in answer.structured_content["text"] and "passages" not in answer.structured_content
    assert answer.structured_content["citations"][0]["url"] == AZERNEWS
    assert "Hasanov" in follow_up.structured_content["query"]
    assert story.structured_content["entries"][0]["url"] == AZERNEWS
    assert stats.structured_content["articles"] > 0 and "index_dir" not in stats.structured_content


@pytest.mark.slow
def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(http_url):
    async def calls(client: Client) -> list:
        return [await client.call_tool("fetch", {"id": "no-such-article"}),
                await client.call_tool("search", {"query": 5}),
                await client.call_tool("search", {}),
                await client.call_tool("ask", {"question": "Who?", "date_from": "2025-13-45"}),
                await client.call_tool("ask", {"question": "Who?", "k": 0}),
                await client.call_tool("timeline", {"query": ""}),
                await client.call_tool("search", {"query": "Hasanov IDEF"})]

    *refused, fine = run(over_http(http_url), calls)
    assert all(r.is_error for r in refused), [r.content for r in refused]
    assert "no-such-article" in refused[0].content[0].text and "date_from" in refused[3].content[0].text
    assert not fine.is_error


@pytest.mark.slow
def test_http_requires_the_key_and_a_known_host(http_url):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert httpx.post(http_url, json=body, timeout=30).status_code == 401
    assert httpx.post(http_url, json=body, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
    port = http_url.split(":")[2].split("/")[0]
    foreign = httpx.post(http_url, json=body, timeout=30, headers={
        "Authorization": f"Bearer {KEY}", "Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})
    assert foreign.status_code == 403
    with pytest.raises(BaseException):  # noqa: B017 - the SDK wraps the 401 in its own exception groups
        run(over_http(http_url, key="wrong"), lambda client: client.list_tools())


def test_the_readme_config_starts_newsdesk_mcp():
    from newsdesk.cli import build_parser, cmd_mcp

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = [code for lang, code in re.findall(r"```(\w*)\n(.*?)```", readme, re.S) if lang == "json"]
    entry = json.loads(block)["mcpServers"]["newsdesk"]
    args = build_parser().parse_args([a.replace("DIR", "/tmp/idx") for a in entry["args"]])
    assert entry["command"] == "newsdesk" and args.func is cmd_mcp and args.http is None
    assert args.index == "/tmp/idx"
