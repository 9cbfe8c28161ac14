"""``newsdesk mcp``: the collection as Model Context Protocol tools, for Claude Desktop, ChatGPT
connectors, Open WebUI and agents, on the official ``mcp`` SDK (2.x).

``search`` and ``fetch`` have the shapes ChatGPT connectors require (``{"results": [{id, title,
url}]}``; ``{id, title, text, url, metadata}``, ids being article ids); ``ask``, ``timeline`` and
``stats`` give a cited answer, a story's dated developments and what the collection holds. Every
tool only reads. Over stdio by default; with ``--http PORT`` over Streamable HTTP at ``/mcp``,
behind the same Host and Origin checks as ``newsdesk serve`` and its API key.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from typing_extensions import TypedDict

from index.errors import NewsdeskError
from rag import Assistant
from ui.auth import AllowedHosts, ApiKey, ApiRoutes, OwnOriginOnly, read_api_key

PATH = "/mcp"
# search returns at most this many articles, found among this many passages (several passages
# of one article count once).
SEARCH_ARTICLES = 10
SEARCH_PASSAGES = 30
INSTRUCTIONS = (
    "A news collection. `search` finds articles (ids, titles, urls) and `fetch` reads one by id; "
    "`ask` answers a question with numbered citations [n] from the articles; `timeline` lists a story's "
    "developments by date; `stats` says what the collection holds (dates, sources)."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

T = TypeVar("T")


class SearchResult(TypedDict):
    id: str
    title: str
    url: str


class SearchResults(TypedDict):
    results: list[SearchResult]


class Document(TypedDict):
    id: str
    title: str
    text: str
    url: str
    metadata: dict[str, Any]


def _refusing(call: Callable[[], T]) -> T:
    """``call()``, with the assistant's refusals of bad input as tool errors (the caller reads and
    corrects them; the server keeps serving)."""
    try:
        return call()
    except (ValueError, NewsdeskError) as exc:
        raise ToolError(str(exc)) from None


def build_server(assistant: Assistant) -> MCPServer:
    """The MCP server over ``assistant``: tools ``search``, ``fetch``, ``ask``, ``timeline``, ``stats``."""
    server = MCPServer("newsdesk", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(annotations=READ_ONLY)
    def search(query: str) -> SearchResults:
        """Find the news articles that best match ``query`` (best first). Returns their ids, titles
        and urls; read one with `fetch`."""
        passages = _refusing(lambda: assistant.search(query, k=SEARCH_PASSAGES))
        seen: dict[str, SearchResult] = {}
        for p in passages:
            if p.article_id not in seen and len(seen) < SEARCH_ARTICLES:
                seen[p.article_id] = {"id": p.article_id, "title": p.title, "url": p.url}
        return {"results": list(seen.values())}

    @server.tool(annotations=READ_ONLY)
    def fetch(id: str) -> Document:  # noqa: A002 - the name ChatGPT connectors call it with
        """Read one article by the id `search` gave: its cleaned text, and in metadata its date,
        source, author and the other copies of its story (syndicated or updated versions)."""
        article, copies = _refusing(lambda: assistant.article(id))
        return {"id": article.id, "title": article.title, "text": article.text, "url": article.url, "metadata": {
            "date": article.date.isoformat() if article.date else None, "source": article.source,
            "author": article.author or None, "copies": [c.to_dict() for c in copies]}}

    @server.tool(annotations=READ_ONLY)
    def ask(question: str, history: list[tuple[str, str]] | None = None, date_from: str | None = None,
            date_to: str | None = None, sources: list[str] | None = None, as_of: str | None = None,
            k: int | None = None) -> dict[str, Any]:
        """Answer a question from the collection with numbered citations.

        Args:
            question: the question.
            history: earlier [question, answer] pairs; a follow-up ("what did they discuss?") is
                read in their light.
            date_from: only articles published on or after this date (YYYY-MM-DD).
            date_to: only articles published on or before this date (YYYY-MM-DD).
            sources: only articles from these sources (e.g. "azernews.az").
            as_of: the date the question is asked (default today).
            k: passages to retrieve (default: the server's).

        Returns the text with [n] markers, its citations (number, title, url, source, date, quote,
        story copies), warnings, whether it abstained, and any reports that differ.
        """
        answer = _refusing(lambda: assistant.ask(question, history=history or None, date_from=date_from,
                                                 date_to=date_to, sources=sources, as_of=as_of, k=k))
        details = answer.to_dict()
        details.pop("passages", None)  # what was retrieved: the citations hold what the answer uses
        return details

    @server.tool(annotations=READ_ONLY)
    def timeline(query: str, date_from: str | None = None, date_to: str | None = None,
                 sources: list[str] | None = None, as_of: str | None = None, k: int | None = None) -> dict[str, Any]:
        """A story's developments in date order, one cited line per article, copies merged.

        Args:
            query: the story, e.g. "the port strike" or "What happened with X since March?".
            date_from: only articles published on or after this date (YYYY-MM-DD).
            date_to: only articles published on or before this date (YYYY-MM-DD).
            sources: only articles from these sources.
            as_of: the date the question is asked (default today).
            k: at most this many entries (default: the server's).
        """
        story = _refusing(lambda: assistant.timeline(query, date_from=date_from, date_to=date_to, sources=sources,
                                                     as_of=as_of, k=k))
        return story.to_dict()

    @server.tool(annotations=READ_ONLY)
    def stats() -> dict[str, Any]:
        """What the collection holds: articles, passages, the dates they span, their sources."""
        details = assistant.stats().to_dict()
        details.pop("index_dir", None)  # a path on the server: nothing a client can use
        return details

    return server


def http_app(server: MCPServer, *, host: str = "127.0.0.1", allowed_hosts: Sequence[str] = (),
             key: ApiKey | None = None) -> OwnOriginOnly:
    """``server`` over Streamable HTTP at :data:`PATH`, behind :class:`ui.auth.OwnOriginOnly`:
    the Host and Origin checks of ``newsdesk serve`` and, with ``key``, its bearer key."""
    # The SDK's own Host check is off: OwnOriginOnly's, which --allowed-host extends, runs first.
    app = server.streamable_http_app(streamable_http_path=PATH, host=host,
                                     transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    return OwnOriginOnly(app, hosts=AllowedHosts(host, allowed_hosts), api=ApiRoutes(PATH, key))


def serve(args: argparse.Namespace) -> int:
    """``newsdesk mcp``: open the collection, then serve it over stdio (the default) or, with
    ``--http PORT``, over Streamable HTTP until interrupted."""
    from rag.options import assistant_from_options

    key = read_api_key(getattr(args, "api_key_file", None))
    port = getattr(args, "http", None)
    host = getattr(args, "host", "127.0.0.1")
    if port is not None:
        from ui.app import _is_loopback, check_port

        check_port(host, port)  # before the collection and the model load
        if not _is_loopback(host) and key is None:
            print(f"Warning: serving MCP on {host} without an API key (--api-key-file); anyone who can reach it "
                  "can use it.", file=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):  # over stdio, stdout carries the protocol only
        assistant = assistant_from_options(vars(args))
        assistant.search("warm up", k=1)  # the first call should not pay for loading the model
    server = build_server(assistant)
    if port is None:
        server.run("stdio")
        return 0
    import uvicorn

    print(f"Newsdesk MCP server on http://{host}:{port}{PATH} (Ctrl-C stops it).", file=sys.stderr, flush=True)
    uvicorn.run(http_app(server, host=host, allowed_hosts=getattr(args, "allowed_host", None) or (), key=key),
                host=host, port=port, log_level="warning")
    return 0
