"""Load test of the chat UI: concurrent ``gradio_client`` sessions, each a short conversation.

Usage:
    python benchmarks/ui_load.py                       # 20 sessions x 5 questions, own server
    python benchmarks/ui_load.py --sessions 5 --questions 2
    python benchmarks/ui_load.py --url http://127.0.0.1:7860/   # a running `newsdesk serve`

Each session is one ``gradio_client.Client`` (its own Gradio session, so follow-ups are
rewritten from its own history) calling the UI's ``/chat`` endpoint, exactly what the browser
calls. Without ``--url`` the bundled sample is served in-process on a free port (the index is
built in the per-user cache on first use). Prints p50/p95 answer latency; exits 1 on any error.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

QUESTIONS = (
    "Who did Hasanov meet at IDEF 2025?",
    "What did they discuss?",  # a follow-up: needs the session's first turn
    "What did the ECB decide about its deposit rate?",
    "Which film won the Heart of Sarajevo?",
    "Who won the Ljubljana Marathon?",
    "Why did the Helsinki bus drivers end their strike?",
)


@dataclass
class LoadResult:
    """Latencies (seconds, one per answer) and errors (one line each) of a run."""

    sessions: int
    questions: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of the latencies, nearest-rank."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    def summary(self) -> str:
        n = len(self.latencies)
        if not n:
            return f"{self.sessions} sessions x {self.questions} questions: no answer; {len(self.errors)} errors"
        return (
            f"{self.sessions} sessions x {self.questions} questions: {n} answers, {len(self.errors)} errors "
            f"in {self.seconds:.1f} s ({n / self.seconds:.1f} answers/s)\n"
            f"latency p50 {self.percentile(50):.2f} s, p95 {self.percentile(95):.2f} s, "
            f"mean {statistics.fmean(self.latencies):.2f} s, max {max(self.latencies):.2f} s"
        )


def _check(output: tuple) -> str | None:
    """None when ``/chat`` returned a finished answer with sources, else what is wrong."""
    chat, sources_html, _ = output
    last = chat[-1] if chat else None
    if not last or last.get("role") != "assistant":
        return "no assistant message"
    text = "".join(part.get("text", "") for part in last.get("content", []) if isinstance(part, dict))
    if "nd-pending" in text or "Could not answer" in text:
        return f"unfinished or failed answer: {text[:200]}"
    if "nd-sources" not in (sources_html or ""):
        return "no sources panel"
    return None


def _session(url: str, index: int, questions: int, result: LoadResult, lock: threading.Lock) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 - every failure is a load-test error to report
        with lock:
            result.errors.append(f"session {index}: could not connect: {exc!r}")
        return
    # Every session starts with the IDEF question so the follow-up has its context; the
    # rest rotate so that sessions do not all ask the same thing at once.
    rest = QUESTIONS[2:]
    asked = list(QUESTIONS[:2]) + [rest[(index + i) % len(rest)] for i in range(max(0, questions - 2))]
    for question in asked[:questions]:
        started = time.perf_counter()
        try:
            problem = _check(client.predict(question, api_name="/chat"))
        except Exception as exc:  # noqa: BLE001
            problem = repr(exc)
        took = time.perf_counter() - started
        with lock:
            if problem:
                result.errors.append(f"session {index}, {question!r}: {problem}")
            else:
                result.latencies.append(took)
    client.close()


def run_load(url: str, *, sessions: int = 20, questions: int = 5) -> LoadResult:
    """Run ``sessions`` concurrent conversations of ``questions`` questions against ``url``."""
    result = LoadResult(sessions=sessions, questions=questions)
    lock = threading.Lock()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        for i in range(sessions):
            pool.submit(_session, url, i, questions, result, lock)
    result.seconds = time.perf_counter() - started
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sample_server():  # noqa: ANN201 - (gr.Blocks, url)
    """Serve the bundled sample in this process on a free port; returns (demo, url)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rag import Assistant
    from ui.app import build_app, launch

    assistant = Assistant.from_index(progress=True)
    assistant.search("warm up", k=1)
    demo = build_app(assistant)
    return demo, launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: serve the bundled sample in-process)")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument("--questions", type=int, default=5, help="questions per session (default 5)")
    args = parser.parse_args(argv)
    demo = None
    url = args.url
    if url is None:
        demo, url = start_sample_server()
    try:
        result = run_load(url, sessions=args.sessions, questions=args.questions)
    finally:
        if demo is not None:
            demo.close()
    print(result.summary())
    for error in result.errors[:20]:
        print("error:", error, file=sys.stderr)
    return 1 if result.errors or len(result.latencies) != args.sessions * args.questions else 0


if __name__ == "__main__":
    sys.exit(main())
