"""The Gradio app: :func:`build_app` lays it out, :func:`launch` serves it offline, and
:func:`serve` is ``newsdesk serve``.

Offline by construction: telemetry off, no share link, system fonts, no MCP server, and a
footer without the run-history page. Answers go through Gradio's queue with a concurrency
limit, so a burst of users queues instead of oversubscribing the CPU.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import signal
import sys
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import gradio as gr

from index.plural import plural
from rag import Assistant
from rag.config import K_MAX
from rag.options import assistant_from_options
from ui import render
from ui.auth import AllowedHosts, ApiRoutes, Login, OwnOriginOnly, read_api_key
from ui.auth import parse_auth as parse_auth  # re-exported: ui.app.parse_auth predates ui.auth
from ui.handlers import MAX_UPLOAD_MB, PICKER_TYPES, UPLOAD_MAX_AGE_S, UPLOAD_SWEEP_S, Handlers, discard_upload, refuse
from ui.openai_api import PREFIX, OpenAIApi, openai_error
from ui.preflight import check_port as check_port  # re-exported: it was defined here
from ui.preflight import preflight
from ui.session import MAX_SESSIONS, SESSION_IDLE_S, SESSION_UPLOAD_MB, Workspace, close_session, remove_dead_copies
from ui.style import CSS, SCRIPT, theme

# Answers are CPU-bound (embedding + scoring); four at a time keeps a 4+ core machine busy
# without making every answer slower. The rest wait in the queue.
CONCURRENCY = 4
QUEUE_SIZE = 256
# Gradio keeps its own per-tab state (its copy of the page's values, 0.2-0.5 MB), also for
# tabs that only loaded the page; it may hold this many per live session before dropping the
# oldest. Closed sessions' Gradio state is dropped with them.
GRADIO_STATES_PER_SESSION = 2
SAMPLE_EXAMPLES = (
    "Who did Hasanov meet at IDEF 2025?",
    "What did the ECB decide about its deposit rate?",
    "Which film won the Heart of Sarajevo?",
)


class CheckedBlocks(gr.Blocks):
    """``gr.Blocks`` that refuses a call whose values do not fit its endpoint (too few, too
    many, a wrong type, a file that was not uploaded) with one short line, in the caller's
    error and in the log. Gradio answers these with its inputs' reprs (memory addresses
    included) and a traceback in the log."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):  # noqa: ANN001, ANN201
        name = f"/{block_fn.api_name}" if block_fn.api_name else "this event"
        if not isinstance(inputs, list) or len(inputs) != len(block_fn.inputs):
            got = len(inputs) if isinstance(inputs, list) else 0
            raise refuse(f"{name} takes {len(block_fn.inputs)} values, got {got}; "
                         "see the API page (View API, at the foot of the app) for its parameters")
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as exc:  # Gradio's message quotes the values and their classes
            raise refuse(f"{name}: a value has the wrong type or names no uploaded file "
                         f"({type(exc).__name__}); see the API page for its parameters") from None


def build_app(assistant: Assistant, *, private_uploads: bool = True, examples: Sequence[str] = (),
              title: str = "Newsdesk", workspace: Workspace | None = None,
              upload_max_age_s: int = UPLOAD_MAX_AGE_S) -> gr.Blocks:
    """The chat UI over ``assistant``.

    Args:
        assistant: the collection to serve.
        private_uploads: put each browser session's uploads into its own copy of the collection
            (True, the default, and always for the bundled sample); False adds them to the served
            index itself, visible to every user.
        examples: example questions shown under the input box.
        title: the page title.
        workspace: where uploads go (default: a new one over ``assistant`` and ``private_uploads``);
            its private copies are deleted when the app is garbage-collected or the process exits.
        upload_max_age_s: an uploaded file that no upload event took is deleted after this many
            seconds (looked for every UPLOAD_SWEEP_S or as often); all are deleted when the app stops.

    Returns:
        The :class:`gr.Blocks`; start it with :func:`launch`.
    """
    workspace = workspace or Workspace(assistant, private_uploads=private_uploads)
    handlers = Handlers(workspace)
    config = assistant.config
    llm_ready = bool(config.generator.base_url and config.generator.model)

    with CheckedBlocks(title=title, analytics_enabled=False, fill_width=True,
                       delete_cache=(min(UPLOAD_SWEEP_S, upload_max_age_s), upload_max_age_s)) as demo:
        session = gr.State(None, delete_callback=close_session)
        gr.Markdown(f"## {title}\nAsk questions of the news collection; every answer cites its sources.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="nd-chat", height=520, render_markdown=False, sanitize_html=True,
                    latex_delimiters=[], buttons=["copy"], feedback_options=None, autoscroll=True,
                    placeholder="Ask a question about the news below.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        label="Question", show_label=False, elem_id="nd-question", scale=6, max_lines=4,
                        placeholder="Ask about the news… (follow-ups are understood)", autofocus=True,
                    )
                    ask_btn = gr.Button("Ask", variant="primary", elem_id="nd-ask", scale=1, min_width=80)
                filters_note = gr.HTML("", elem_id="nd-filters", js_on_load=None, visible=False)
                new_btn = gr.Button("New conversation", size="sm", elem_id="nd-new", variant="secondary")
                tried = gr.Examples(list(examples), inputs=question, label="Try") if examples else None
            with gr.Column(scale=2, min_width=320):
                sources_panel = gr.HTML(render.sources_html(None, turn=0), label="Sources",
                                        elem_id="nd-sources-panel", js_on_load=None, padding=True)
                with gr.Accordion("Timeline", open=True, elem_id="nd-timeline-box"):
                    with gr.Row():
                        story = gr.Textbox(label="Story", show_label=False, elem_id="nd-timeline-query", scale=4,
                                           placeholder="A story, e.g. the port strike")
                        story_btn = gr.Button("Show timeline", size="sm", scale=1, min_width=80,
                                              elem_id="nd-timeline-show")
                    timeline_panel = gr.HTML(render.timeline_html(None), elem_id="nd-timeline", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3), gr.Accordion("Search options", open=True):
                with gr.Row():
                    date_from = gr.DateTime("", label="From", include_time=False, type="string", elem_id="nd-from",
                                            info="Published on or after (YYYY-MM-DD)")
                    date_to = gr.DateTime("", label="To", include_time=False, type="string", elem_id="nd-to",
                                          info="Published on or before (YYYY-MM-DD)")
                with gr.Row():
                    choices = handlers.source_choices()
                    # Only the collection's own sources can be picked: a typed name that matches
                    # none would filter everything out.
                    sources = gr.Dropdown(
                        choices=choices, multiselect=True, allow_custom_value=not choices, label="Sources",
                        info="Only articles from these sources" + ("" if choices else " (type a name, then Enter)"),
                        elem_id="nd-sources-filter",
                    )
                    k = gr.Slider(1, K_MAX, value=min(config.k, K_MAX), step=1, label="Passages (k)",
                                  info="Passages retrieved per question", elem_id="nd-k")
                llm_label = f"LLM ({config.generator.model})" if llm_ready else "LLM"
                backend = gr.Radio(
                    [("Offline (extractive)", "extractive"), (llm_label, "llm")],
                    value="llm" if llm_ready else "extractive", label="Answer with", interactive=llm_ready,
                    info=None if llm_ready else "LLM: start with --llm-base-url and --llm-model to enable",
                    elem_id="nd-backend",
                )
            with gr.Column(scale=2), gr.Accordion("Collection", open=True):
                stats = gr.Markdown(label="Stats", elem_id="nd-stats")
                gr.Markdown(f"Add articles: JSONL (or .jsonl.gz), CSV, TXT, Markdown or HTML files, RSS/Atom feeds "
                            f"or WARC web archives, up to {MAX_UPLOAD_MB} MB each. "
                            "They are searchable as soon as they are indexed.")
                # A button, not gr.File's drop zone: that one follows each upload over a second stream
                # whose close() Gradio's client leaves unimplemented ("Method not implemented." twice
                # in the browser console per upload), and that stream takes over the client's abort
                # controller of the page's own event stream.
                with gr.Column(elem_id="nd-upload"):
                    upload = gr.UploadButton(
                        "Add articles…", file_count="multiple", file_types=list(PICKER_TYPES), type="filepath",
                        variant="secondary", size="md",
                    )
                upload_status = gr.HTML("", label="Upload status", elem_id="nd-upload-status", js_on_load=None)
                with gr.Row():
                    uploaded = gr.Dropdown(choices=[], multiselect=True, label="Your uploads", scale=4,
                                           info="Articles you uploaded: select some to remove them",
                                           elem_id="nd-uploaded")
                    remove_btn = gr.Button("Remove", size="sm", scale=1, min_width=80, elem_id="nd-remove")

        chat_inputs = [question, date_from, date_to, sources, k, backend, session]
        chat_outputs = [chatbot, sources_panel, session, question]
        gr.on([question.submit, ask_btn.click], handlers.chat, chat_inputs, chat_outputs, api_name="chat",
              concurrency_id="answer", show_progress="minimal")
        if tried is not None:  # an example asks at once, as if typed and sent
            tried.load_input_event.then(handlers.chat, chat_inputs, chat_outputs, api_name=False,
                                        concurrency_id="answer", show_progress="minimal")
        reset = [chatbot, sources_panel, session, date_from, date_to, sources]
        new_btn.click(handlers.new_conversation, [session], reset, api_name=False)
        chatbot.clear(handlers.new_conversation, [session], reset, api_name=False)
        gr.on([date_from.change, date_to.change, sources.change], handlers.filters_view, [date_from, date_to, sources],
              [filters_note], api_name=False, queue=False, show_progress="hidden")
        upload.upload(handlers.upload, [upload, session], [upload_status, stats, sources, upload, uploaded, session],
                      api_name="upload", concurrency_limit=2, concurrency_id="upload")
        remove_btn.click(handlers.remove_uploads, [uploaded, session], [upload_status, stats, uploaded, session],
                         api_name=False, concurrency_limit=2, concurrency_id="upload")
        gr.on([story.submit, story_btn.click], handlers.timeline_view,
              [story, date_from, date_to, sources, session], [timeline_panel], api_name=False,
              concurrency_id="answer", show_progress="minimal")
        gr.api(handlers.ask, api_name="ask", concurrency_id="answer")
        gr.api(handlers.timeline, api_name="timeline", concurrency_id="answer")
        demo.load(handlers.stats, [session], [stats], api_name=False)
        demo.load(handlers.source_filter, [session], [sources], api_name=False)

    demo.workspace = workspace
    workspace.on_close = functools.partial(_forget_gradio_state, weakref.ref(demo))
    weakref.finalize(demo, workspace.close)
    return demo


async def _no_such_endpoint(request, exc: Exception):  # noqa: ANN001, ANN202 - Starlette's handler types
    """A call naming an endpoint that does not exist (``/run/nope``, a ``fn_index`` out of range)
    is the caller's mistake: 404 with one line, where Gradio lets it out as a 500 and a traceback."""
    from gradio.route_utils import FnIndexInferError
    from starlette.responses import JSONResponse

    if not isinstance(exc, FnIndexInferError) and not request.url.path.rstrip("/").endswith("/queue/join"):
        raise exc  # another route's KeyError is a fault of ours: Gradio's 500 and traceback, as before
    return JSONResponse({"detail": "No such API endpoint; /gradio_api/info lists them."}, status_code=404)


def _forget_gradio_state(demo_ref: weakref.ref, client: str) -> None:
    """Drop what Gradio keeps for a closed session's tab or client (its copy of the page's values)."""
    holder = getattr(demo_ref(), "state_holder", None)
    if holder is None:
        return
    with holder.lock:
        holder.session_data.pop(client, None)
        holder.time_last_used.pop(client, None)


def delete_uploads(demo: gr.Blocks) -> None:
    """Delete every file uploaded to ``demo`` that is still there (on stop)."""
    from gradio.utils import get_upload_folder

    for name in list(demo.upload_file_set):
        discard_upload(Path(name), Path(get_upload_folder()))
    demo.upload_file_set.clear()


def launch(demo: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = 7860,
           auth: tuple[str, str] | None = None, prevent_thread_lock: bool = False, quiet: bool = False,
           concurrency: int = CONCURRENCY, allowed_hosts: Sequence[str] = (), api: OpenAIApi | None = None) -> str:
    """Serve ``demo`` offline (no share link, telemetry off) behind a queue; returns the local URL.

    Args:
        demo: from :func:`build_app`.
        host: address to bind; 127.0.0.1 keeps it to this machine.
        port: port to bind (None: the first free one from 7860).
        auth: (user, password) to require a login (exact user name; each wrong try waits a second).
        prevent_thread_lock: return at once and serve from a background thread (tests).
        quiet: print nothing.
        concurrency: answers computed at once; more requests wait in the queue.
        allowed_hosts: names besides ``host`` (and loopback names, on a loopback address) that a
            request's ``Host`` may give, e.g. the name a reverse proxy serves it under; "*": any.
        api: the OpenAI-compatible routes to serve at ``/v1`` (same host and origin checks; its
            key, when it has one, stands in for the login there).
    """
    from gradio.route_utils import FnIndexInferError
    from starlette.middleware import Middleware
    from starlette.routing import Mount

    demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)
    workspace = getattr(demo, "workspace", None)
    max_sessions = workspace.max_sessions if isinstance(workspace, Workspace) else MAX_SESSIONS
    login = Login(*auth) if auth else None
    guard = {"login": login, "hosts": AllowedHosts(host, allowed_hosts),
             "api": ApiRoutes(PREFIX, api.key, openai_error) if api is not None else None}
    _, local_url, _ = demo.launch(
        server_name=host, server_port=port, share=False, auth=login.check if login else None,
        app_kwargs={"middleware": [Middleware(OwnOriginOnly, **guard)],
                    "exception_handlers": {FnIndexInferError: _no_such_endpoint, KeyError: _no_such_endpoint},
                    # Ahead of Gradio's own routes, which are added after these.
                    "routes": [Mount(PREFIX, app=api.app())] if api is not None else []},
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet, show_error=True, max_file_size=f"{MAX_UPLOAD_MB}mb", theme=theme(), css=CSS, js=SCRIPT,
        footer_links=["api", "settings"], run_history=False, enable_monitoring=False, mcp_server=False,
        ssr_mode=False, pwa=False, inbrowser=False, state_session_capacity=GRADIO_STATES_PER_SESSION * max_sessions,
    )
    # Gradio's own CORS layer is outermost and answers any localhost origin; put the origin and
    # login checks in front of it too (the copy inside, passed above, covers requests that came
    # in before this line ran).
    app = demo.server_app
    app.middleware_stack = OwnOriginOnly(app.middleware_stack or app.build_middleware_stack(), **guard)
    return local_url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_limits(args: argparse.Namespace) -> dict:
    """The Workspace's session limits from ``serve``'s options (the named defaults where unset).

    Raises:
        ValueError: a limit that is not positive.
    """
    def option(name: str, default: float) -> float:
        value = getattr(args, name, None)
        return default if value is None else value

    limits = {"idle_s": 60 * option("session_idle_minutes", SESSION_IDLE_S / 60),
              "max_sessions": option("max_sessions", MAX_SESSIONS),
              "upload_quota_bytes": int(option("session_upload_mb", SESSION_UPLOAD_MB) * 2**20)}
    if limits["idle_s"] <= 0 or limits["max_sessions"] < 1 or limits["upload_quota_bytes"] <= 0:
        raise ValueError("--session-idle-minutes, --max-sessions and --session-upload-mb must be positive")
    return limits


def serve(args: argparse.Namespace, *, checked: bool = False, auth: tuple[str, str] | None = None) -> int:
    """``newsdesk serve``: check the port and the login (unless ``checked``: the command line ran
    :func:`ui.preflight.preflight` before importing this module and passes its ``auth``), open
    the collection (building the sample's index on first start, with progress in the
    terminal), warm up the model, and serve the chat until interrupted."""
    if not checked:
        auth = preflight(args)
    limits = session_limits(args)  # before anything loads
    key = read_api_key(getattr(args, "api_key_file", None))  # checked by preflight too
    on_sample = getattr(args, "index", None) is None
    print("Opening the " + ("bundled sample collection (its index is built on first start)…" if on_sample
                            else f"index at {args.index}…"), file=sys.stderr, flush=True)
    assistant = assistant_from_options(vars(args))
    print("Loading the embedding model…", file=sys.stderr, flush=True)
    assistant.search("warm up", k=1)  # the first question should not pay for loading the model
    s = assistant.stats()
    print(f"Collection: {plural(s.articles, 'article')}, {plural(s.chunks, 'passage')}, model {s.model}.",
          file=sys.stderr)
    if not _is_loopback(args.host) and auth is None:
        print(f"Warning: serving on {args.host} without a login (--auth-file); anyone who can reach it can use it.",
              file=sys.stderr)
    if auth is not None and key is None:
        print("Note: /v1 takes a browser login's session only; give programs a key with --api-key-file.",
              file=sys.stderr)
    for leftover in remove_dead_copies():
        print(f"Removed {leftover}, left behind by a server that was killed.", file=sys.stderr)
    workspace = Workspace(assistant, private_uploads=on_sample, **limits)
    demo = build_app(assistant, examples=SAMPLE_EXAMPLES if on_sample else (), workspace=workspace)
    llm_model = getattr(args, "llm_model", None) if getattr(args, "llm_base_url", None) else None
    api = OpenAIApi(assistant, llm_model=llm_model, key=key)
    url = launch(demo, host=args.host, port=args.port, auth=auth, prevent_thread_lock=True, quiet=True,
                 allowed_hosts=getattr(args, "allowed_host", None) or (), api=api)
    serve_until_stopped(demo, workspace, ready=lambda: print(
        f"Newsdesk is serving on {url} (Ctrl-C stops it); OpenAI-compatible API at {url.rstrip('/')}/v1 "
        f"(models {', '.join(api.models)}).", file=sys.stderr, flush=True))
    return 0


def serve_until_stopped(demo: gr.Blocks, workspace: Workspace, *, ready: Callable[[], None] = lambda: None) -> None:
    """Block until Ctrl-C or SIGTERM (what ``kill``, systemd and docker send), then close the
    server and delete the sessions' private copies and the uploads left either way. ``ready`` runs once SIGTERM is
    handled (it announces the server: a stop right after that must clean up too)."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # block_thread closes the server on it, as on Ctrl-C

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        ready()
        demo.block_thread()
    except KeyboardInterrupt:  # a stop that came before block_thread took over (while announcing)
        demo.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
        workspace.close()
        delete_uploads(demo)
